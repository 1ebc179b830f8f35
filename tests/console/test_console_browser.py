"""The operator console in a real browser (Debian's Chromium through Playwright) against a real node: what an
operator, a viewer and an auditor can see and do, and what the console refuses."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from playwright.sync_api import expect

from gateway.api.swg.v1 import exchange_pb2 as S
from gateway.testing.documents import aed_batch
from tests.support.two_nodes import wait_for

from tests.support.console_rig import CUSTOMS, PASSWORDS, SCREENSHOTS, ConsoleRig


def sign_in(page: Any, rig: ConsoleRig, name: str, next_path: str = "/") -> None:
    page.goto(rig.url + "/login?next=" + next_path)
    page.get_by_label("User").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name][1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text(f"{name} ({PASSWORDS[name][0]})")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def submit_aed(rig: ConsoleRig, serial: int, expires_in_s: float | None = None) -> tuple[str, str]:
    batch = aed_batch(1, start=serial)
    req = S.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString())
    if expires_in_s is not None:
        req.expires_at.FromDatetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=expires_in_s))
    resp = rig.post.exchange.Submit(req, metadata=rig.post.metadata, timeout=30)
    return resp.message_id, batch.items[0].item_id


def state_of(rig: ConsoleRig, message_id: str) -> int:
    st = rig.post.exchange.GetStatus(S.GetStatusRequest(message_id=message_id), metadata=rig.post.metadata,
                                     timeout=10)
    return int(st.recipients[0].state)


def dead_letter(rig: ConsoleRig, serial: int) -> str:
    """An AED to customs that nobody receives before it expires: EXPIRED, listed as a dead letter."""
    mid, _ = submit_aed(rig, serial, expires_in_s=1)
    wait_for(lambda: state_of(rig, mid) == S.DELIVERY_STATE_EXPIRED)
    return mid


def test_a_signed_out_request_redirects_to_sign_in_and_comes_back_after_it(page: Any, rig: ConsoleRig) -> None:
    page.goto(rig.url + "/messages?participant=DE%2FPOST%2FMAIN")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmessages%3Fparticipant%3DDE%252FPOST%252FMAIN$"))
    shot(page, "sign-in")
    page.get_by_label("User").fill("olga")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Unknown user or wrong password.")
    page.get_by_label("User").fill("olga")
    page.get_by_label("Password").fill(PASSWORDS["olga"][1])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(rig.url + "/messages?participant=DE%2FPOST%2FMAIN")
    expect(page.get_by_label("Participant")).to_have_value("DE/POST/MAIN")
    # The session cookie is out of reach of scripts and of other sites' requests.
    [cookie] = [c for c in page.context.cookies() if c["name"] == "swg_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # Signing out ends the session: the next page asks for sign-in again.
    page.get_by_role("button", name="Sign out").click()
    page.goto(rig.url + "/dead-letters")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdead-letters$"))


def test_overview_shows_the_node_serving_and_a_queue_that_grows_after_submits(page: Any, rig: ConsoleRig) -> None:
    sign_in(page, rig, "victor")
    expect(page.locator("#health")).to_have_text("SERVING")
    expect(page.locator("#node")).to_have_text("de-node")
    cell = page.locator(f'#queues td[data-recipient="{CUSTOMS}"]')
    before = int(cell.inner_text()) if cell.count() else 0
    for serial in range(61000001, 61000004):
        submit_aed(rig, serial)
    page.reload()
    expect(cell).to_have_text(str(before + 3))
    expect(page.locator("svg.chart")).to_be_visible()
    shot(page, "overview")


def test_searching_a_submitted_s10_id_finds_its_message_and_timeline(page: Any, rig: ConsoleRig) -> None:
    mid, item_id = submit_aed(rig, 62000001)
    submit_aed(rig, 62000002)  # another item: not in the answer
    sign_in(page, rig, "victor", "/messages")
    page.get_by_label("S10 item id").fill(item_id)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#results tr").filter(has=page.locator("a"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(mid)
    expect(rows.first).to_contain_text(item_id)
    expect(page.locator("#timeline li").first).to_contain_text("aed accepted")
    shot(page, "messages")

    page.get_by_role("link", name=mid).first.click()
    expect(page.locator("#recipients")).to_contain_text(CUSTOMS)
    expect(page.locator("#recipients td.state")).to_have_text("QUEUED")
    expect(page.locator("#audit")).to_contain_text("accepted")
    # A viewer sees the message but not the export; the auditor exports the evidence bundle (a zip).
    expect(page.get_by_role("button", name="Download evidence bundle")).to_have_count(0)
    shot(page, "message")

    page.get_by_role("link", name=item_id).click()
    expect(page).to_have_url(re.compile(r"/items\?item_id=" + item_id))
    expect(page.locator("#timeline")).to_contain_text(mid)
    shot(page, "items")


def test_an_auditor_downloads_the_evidence_bundle_and_the_export_is_audited_with_their_name(
        page: Any, rig: ConsoleRig) -> None:
    mid, _ = submit_aed(rig, 63000001)
    sign_in(page, rig, "anna", "/messages/" + mid)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download evidence bundle").click()
    path = dl.value.path()
    assert open(path, "rb").read(2) == b"PK"
    entry = wait_for(lambda: rig.node().store.last_audit_of("evidence_exported", CUSTOMS))
    assert json.loads(entry.detail) == {"exported_message_id": mid, "operator": "anna"}


def test_a_dead_letter_is_retried_by_an_operator_and_then_delivered(page: Any, rig: ConsoleRig) -> None:
    mid = dead_letter(rig, 64000001)
    sign_in(page, rig, "olga", "/dead-letters")
    row = page.locator("#dead-letters tr").filter(has_text=mid)
    expect(row).to_contain_text("EXPIRED")
    shot(page, "dead-letters")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Retry selected…").click()
    expect(page.locator("h1")).to_have_text("Confirm retry")
    expect(page.locator("main")).to_contain_text(mid)
    shot(page, "retry-confirm")
    page.get_by_role("button", name="Yes, retry").click()
    expect(page.get_by_role("status")).to_have_text("1 delivery(ies) put back in the queue")
    expect(page.locator("#dead-letters tr").filter(has_text=mid)).to_have_count(0)

    # Customs takes everything queued for it, this message among it, and acknowledges it.
    depth = rig.node().store.queue_depths()[CUSTOMS]
    got = rig.customs.receive(depth)
    assert mid in {d.message_id for d in got}
    rig.customs.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[mid]), metadata=rig.customs.metadata,
                                     timeout=10)
    page.goto(rig.url + "/messages/" + mid)
    expect(page.locator("#recipients td.state")).to_have_text("ACKNOWLEDGED")
    expect(page.locator("#recipients .receipt")).to_contain_text("signed by de-node")
    expect(page.locator("#recipients .receipt")).to_contain_text("digest matches")
    # The retry is in the node's audit log with the operator's name.
    expect(page.locator("#audit tr").filter(has_text="retried")).to_contain_text('{"operator":"olga"}')


def test_a_viewer_cannot_retry(page: Any, rig: ConsoleRig) -> None:
    mid = dead_letter(rig, 65000001)
    sign_in(page, rig, "victor", "/dead-letters")
    expect(page.locator("#dead-letters")).to_contain_text(mid)
    expect(page.get_by_role("button", name="Retry selected…")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Only operators may retry dead letters.")
    # Posting the retry form anyway, with the viewer's own valid CSRF token, is refused.
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    resp = page.request.post(rig.url + "/dead-letters/retry",
                             form={"csrf": csrf, "message_id": mid, "confirm": "yes"}, max_redirects=0)
    assert resp.status == 403 and "may not retry" in resp.text()
    assert state_of(rig, mid) == S.DELIVERY_STATE_EXPIRED
    # The overview lists the expiry among the recent refusals and failures.
    page.goto(rig.url + "/")
    expect(page.locator("#refusals tr").filter(has_text=mid)).to_contain_text("expired")


def test_a_form_without_its_csrf_token_is_refused(page: Any, rig: ConsoleRig) -> None:
    mid = dead_letter(rig, 66000001)
    sign_in(page, rig, "olga", "/dead-letters")
    row = page.locator("#dead-letters tr").filter(has_text=mid)
    row.get_by_role("checkbox").check()
    # The page's form, its CSRF token taken out (as a forged form from elsewhere would lack it).
    page.locator('form[action="/dead-letters/retry"] input[name="csrf"]').evaluate("e => e.remove()")
    page.get_by_role("button", name="Retry selected…").click()
    expect(page.locator("h1")).to_have_text("Refused")
    expect(page.get_by_role("alert")).to_contain_text("CSRF")
    shot(page, "csrf-refused")
    # A wrong token is refused the same way, even on the confirmed step.
    resp = page.request.post(rig.url + "/dead-letters/retry", form={"csrf": "x" * 43, "message_id": mid,
                                                                    "confirm": "yes"}, max_redirects=0)
    assert resp.status == 403
    assert state_of(rig, mid) == S.DELIVERY_STATE_EXPIRED


def test_evidence_directory_and_assistance_pages(page: Any, rig: ConsoleRig) -> None:
    sign_in(page, rig, "anna", "/evidence")
    page.get_by_role("button", name="Verify audit now").click()
    expect(page.locator("#verify-result")).to_have_text("Audit log verifies")
    shot(page, "evidence")
    page.get_by_role("link", name="Directory").click()
    expect(page.locator("main")).to_contain_text("signed by the federation CA")
    shot(page, "directory")
    page.get_by_role("link", name="Assistance").click()
    expect(page.locator("#cases")).to_be_visible()
    shot(page, "assistance")


def test_kpis_show_charts_of_the_volumes_and_download_as_csv(page: Any, rig: ConsoleRig) -> None:
    submit_aed(rig, 67000001)
    sign_in(page, rig, "victor", "/kpis")
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("#kpis")).to_contain_text("DE/POST/MAIN")
    shot(page, "kpis")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download CSV").click()
    lines = open(dl.value.path()).read().splitlines()
    assert lines[0].startswith("partner,period_start,items_with_aed,")
    assert any(line.startswith("DE/POST/MAIN,") for line in lines[1:])
