"""Exchange.TrackItems and `gateway item` through a real node over mTLS: each participant sees the part of an
item's story it took part in, and nothing else; an item it took no part in is NOT_FOUND like an unknown one."""

from __future__ import annotations

import datetime as dt
import json

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status

from gateway.api.swg.v1 import assistance_pb2, exchange_pb2, inspection_pb2, item_pb2
from gateway.cli import main
from gateway.testing.documents import inspection, item
from gateway.testing.documents import s10 as make_s10
from gateway.testing.nodes import write_client_profile
from tests.support.two_nodes import wait_for

POST, CUSTOMS, TAX = "DE/POST/MAIN", "DE/CUSTOMS/MAIN", "DE/TAX/MAIN"
S = exchange_pb2
K = exchange_pb2.ItemEventKind
ARRIVED_AT = dt.datetime(2026, 7, 14, 6, 0, tzinfo=dt.timezone.utc)


def submit(client, doc, fmt: str) -> S.SubmitResponse:  # type: ignore[no-untyped-def]
    return client.exchange.Submit(S.SubmitRequest(format=fmt, content=doc.SerializeToString()),
                                  metadata=client.metadata, timeout=30)


def track(client, *item_ids: str) -> S.TrackItemsResponse:  # type: ignore[no-untyped-def]
    return client.exchange.TrackItems(S.TrackItemsRequest(item_ids=list(item_ids)), metadata=client.metadata,
                                      timeout=30)


def timeline(client, item_id: str) -> list[tuple[str, str, str, tuple[str, ...], str]]:  # type: ignore[no-untyped-def]
    """(kind, message id, sender, recipients, outcome) of each event of one item, in the node's order."""
    [tl] = track(client, item_id).items
    assert tl.item_id == item_id and not tl.HasField("error"), tl.error
    return [(K.Name(e.kind).removeprefix("ITEM_EVENT_KIND_"), e.message_id, e.sender, tuple(e.recipients), e.outcome)
            for e in tl.events]


def aed_item(serial: int) -> item_pb2.PostalItem:
    it = item(serial)
    it.events.add(scheme=item_pb2.EVENT_SCHEME_IPS_TN, code="EMD", office="DEFRAA").occurred_at.FromDatetime(ARRIVED_AT)
    return it


def acknowledge_all(client, count: int) -> list[S.Delivery]:  # type: ignore[no-untyped-def]
    got = client.receive(count)
    client.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[d.message_id for d in got]),
                                metadata=client.metadata)
    return got


def aed_decision_revenue(de_node, serial: int):  # type: ignore[no-untyped-def]
    """AED from the post, acknowledged by customs; a decision assessing VAT, acknowledged by the post and the tax
    authority; the revenue notice the node derives from it, acknowledged by the tax authority."""
    post, customs, tax = de_node.client(POST), de_node.client(CUSTOMS), de_node.client(TAX)
    it = aed_item(serial)
    aed = submit(post, item_pb2.ItemBatch(items=[it]), "swg.aed.v1")
    acknowledge_all(customs, 1)
    decision = inspection([it.item_id], outcome=inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED, taxes=True)
    decided = submit(customs, decision, "swg.inspection.v1")
    assert set(decided.recipients) == {POST, TAX}
    acknowledge_all(post, 1)
    got = acknowledge_all(tax, 2)  # the decision and the revenue notice
    assert {d.document_type for d in got} == {"swg.inspection.v1", "swg.revenue.v1"}
    notice = next(d.message_id for d in got if d.document_type == "swg.revenue.v1")
    return post, customs, tax, it.item_id, aed.message_id, decided.message_id, notice


def test_each_party_sees_its_part_of_aed_decision_and_revenue(de_node) -> None:
    post, customs, tax, item_id, aed, decided, notice = aed_decision_revenue(de_node, 51000001)

    # The post: its AED (with customs' receipt and the item's arrival), the decision addressed to it with the
    # outcome, acknowledged by itself only (the tax authority's receipt for the decision is not the post's).
    assert sorted(timeline(post, item_id)) == sorted([
        ("ARRIVED", aed, POST, (), ""),
        ("AED_ACCEPTED", aed, POST, (CUSTOMS,), ""),
        ("ACKNOWLEDGED", aed, POST, (CUSTOMS,), ""),
        ("CUSTOMS_DECISION", decided, CUSTOMS, (POST,), "released"),
        ("ACKNOWLEDGED", decided, CUSTOMS, (POST,), ""),
    ])
    # Customs sent the decision and the notice: it sees every recipient and receipt of those.
    wait_for(lambda: len(timeline(customs, item_id)) == 8)
    assert sorted(timeline(customs, item_id)) == sorted([
        ("ARRIVED", aed, POST, (), ""),
        ("AED_ACCEPTED", aed, POST, (CUSTOMS,), ""),
        ("ACKNOWLEDGED", aed, POST, (CUSTOMS,), ""),
        ("CUSTOMS_DECISION", decided, CUSTOMS, (POST, TAX), "released"),
        ("ACKNOWLEDGED", decided, CUSTOMS, (POST,), ""),
        ("ACKNOWLEDGED", decided, CUSTOMS, (TAX,), ""),
        ("REVENUE_NOTICE", notice, CUSTOMS, (TAX,), ""),
        ("ACKNOWLEDGED", notice, CUSTOMS, (TAX,), ""),
    ])
    # The tax authority: the decision and the notice it received; never the post's AED nor its tracking events.
    assert sorted(timeline(tax, item_id)) == sorted([
        ("CUSTOMS_DECISION", decided, CUSTOMS, (TAX,), "released"),
        ("ACKNOWLEDGED", decided, CUSTOMS, (TAX,), ""),
        ("REVENUE_NOTICE", notice, CUSTOMS, (TAX,), ""),
        ("ACKNOWLEDGED", notice, CUSTOMS, (TAX,), ""),
    ])


def test_the_timeline_is_in_order_with_receipt_and_event_times(de_node) -> None:
    post, *_, item_id, aed, decided, _notice = aed_decision_revenue(de_node, 51000002)
    [tl] = track(post, item_id).items
    kinds = [(K.Name(e.kind).removeprefix("ITEM_EVENT_KIND_"), e.message_id) for e in tl.events]
    # Each message before its receipts, the AED before the decision on it.
    assert kinds == [("ARRIVED", aed), ("AED_ACCEPTED", aed), ("ACKNOWLEDGED", aed),
                     ("CUSTOMS_DECISION", decided), ("ACKNOWLEDGED", decided)]
    assert tl.events[0].at.ToDatetime(dt.timezone.utc) == ARRIVED_AT
    # An acknowledgement carries the time of the signed receipt GetStatus shows (whole seconds, as signed).
    status = post.exchange.GetStatus(S.GetStatusRequest(message_id=aed), metadata=post.metadata)
    [receipt] = status.recipients[0].receipts
    assert tl.events[2].at == receipt.received_at
    assert tl.events[1].at.seconds <= tl.events[2].at.seconds <= tl.events[3].at.seconds


def test_an_item_of_others_is_not_found_exactly_like_an_unknown_item(de_node) -> None:
    post, customs, tax = de_node.client(POST), de_node.client(CUSTOMS), de_node.client(TAX)
    it = aed_item(51000003)
    submit(post, item_pb2.ItemBatch(items=[it]), "swg.aed.v1")
    assert timeline(customs, it.item_id)  # customs received the AED: it sees the item
    unknown = make_s10(51999999, country="FR")
    answer = track(tax, it.item_id, unknown)
    [theirs, nobodys] = answer.items
    assert (theirs.item_id, nobodys.item_id) == (it.item_id, unknown)
    for tl in (theirs, nobodys):
        assert tl.error.code == code_pb2.NOT_FOUND and not tl.events
    # The same words but for the id: nothing tells the tax authority that the first item exists.
    assert theirs.error.message.replace(it.item_id, "ID") == nobodys.error.message.replace(unknown, "ID")
    assert theirs.error.SerializeToString() == nobodys.error.SerializeToString().replace(unknown.encode(),
                                                                                       it.item_id.encode())


def _violations(err: grpc.RpcError) -> list[tuple[str, str]]:
    st = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert st is not None
    br = error_details_pb2.BadRequest()
    [detail] = st.details
    detail.Unpack(br)
    return [(v.field, v.description) for v in br.field_violations]


def test_a_bad_s10_id_is_invalid_argument_naming_its_index(de_node) -> None:
    post = de_node.client(POST)
    good = make_s10(51000004, country="FR")
    with pytest.raises(grpc.RpcError) as exc:
        track(post, good, "RR123456784DE", "not an id")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = [f for f, _ in _violations(exc.value)]
    assert fields == ["item_ids[1]", "item_ids[2]"]
    assert "check digit" in _violations(exc.value)[0][1]


def test_too_many_or_no_ids_are_refused_with_the_limit(de_node) -> None:
    post = de_node.client(POST)
    many = [make_s10(52000000 + n, country="FR") for n in range(101)]
    with pytest.raises(grpc.RpcError) as exc:
        track(post, *many)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 100" in (exc.value.details() or "")
    with pytest.raises(grpc.RpcError) as exc:
        track(post)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in _violations(exc.value)] == ["item_ids"]


def client_profile(de_node, tmp_path, participant: str, scope: str = "status"):  # type: ignore[no-untyped-def]
    return write_client_profile(de_node.fed, tmp_path, participant, de_node.runner.address, (scope,))


def test_gateway_item_prints_the_timeline_as_a_table_and_as_json(de_node, tmp_path, capsys) -> None:
    _post, _customs, _tax, item_id, aed, decided, notice = aed_decision_revenue(de_node, 51000005)
    profile = str(client_profile(de_node, tmp_path, POST))

    assert main(["item", "--client", profile, item_id]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"item {item_id}"
    rows = out[1:]
    assert len(rows) == 5
    assert rows[0].split()[0] == ARRIVED_AT.isoformat().replace("+00:00", "Z")
    assert "arrived" in rows[0]
    assert any("aed_accepted" in r and aed in r and f"from {POST} → {CUSTOMS}" in r for r in rows)
    assert any("customs_decision released" in r and decided in r for r in rows)
    assert not any(notice in r for r in rows)  # the revenue notice is not the post's

    assert main(["item", "--client", profile, "--json", item_id]) == 0
    data = json.loads(capsys.readouterr().out)
    [entry] = data["items"]
    assert entry["itemId"] == item_id and "error" not in entry
    kinds = [e["kind"] for e in entry["events"]]
    assert kinds[0] == "ITEM_EVENT_KIND_ARRIVED" and "ITEM_EVENT_KIND_CUSTOMS_DECISION" in kinds
    assert entry["events"][0]["at"] == ARRIVED_AT.isoformat().replace("+00:00", "Z")


def test_gateway_item_names_what_it_cannot_show_and_exits_2(de_node, tmp_path, capsys) -> None:
    tax = str(client_profile(de_node, tmp_path, TAX))
    unknown = make_s10(51999998, country="FR")
    assert main(["item", "--client", tax, unknown]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gateway item: {unknown}: no item {unknown}")
    assert main(["item", "--client", tax, "RR123456784DE"]) == 2
    err = capsys.readouterr().err
    assert "INVALID_ARGUMENT" in err and "item_ids[0]: not a valid S10 item identifier: check digit" in err
    # TrackItems needs the status scope.
    submit_only = str(client_profile(de_node, tmp_path, TAX, scope="submit"))
    assert main(["item", "--client", submit_only, unknown]) == 2
    assert "PERMISSION_DENIED" in capsys.readouterr().err


def test_across_nodes_each_node_answers_for_the_messages_its_participants_sent_or_received(nodes) -> None:
    """FR post → DE customs over the relay, DE customs' decision back, and FR customs asking DE customs about the
    item: each participant asks its own node and sees what it sent or received there."""
    fr_post, de_customs = nodes.client("fr-node", "FR/POST/MAIN"), nodes.client("de-node", CUSTOMS)
    fr_customs, de_tax = nodes.client("fr-node", "FR/CUSTOMS/MAIN"), nodes.client("de-node", TAX)
    it = aed_item(51000006)
    aed = submit(fr_post, item_pb2.ItemBatch(items=[it]), "swg.aed.v1")
    acknowledge_all(de_customs, 1)
    decided = submit(de_customs, inspection([it.item_id]), "swg.inspection.v1")
    assert list(decided.recipients) == ["FR/POST/MAIN"]
    asked = assistance_pb2.AssistanceRequest(
        requesting_administration="FR/CUSTOMS/MAIN", requested_administration=CUSTOMS,
        agreement_reference="CMAA-DE-FR-2004", legal_basis="CMAA DE-FR art. 4",
        assistance_type=assistance_pb2.ASSISTANCE_TYPE_INFORMATION_ON_GOODS, information_category="goods",
        purpose="Verify the declared value", subjects=[assistance_pb2.Subject(item_ids=[it.item_id])],
        requesting_officer=assistance_pb2.Officer(name="Inspecteur Martin", officer_id="FR-4711"))
    asked.deadline.FromSeconds(int(dt.datetime.now(dt.timezone.utc).timestamp()) + 86400)
    request = submit(fr_customs, asked, "swg.assistance.request.v1")

    # The FR post, on fr-node: its AED with the DE node's "delivered" receipt, then DE customs' acknowledgement
    # once it came back, and the decision relayed in for it with fr-node's "delivered" receipt. Its outcome
    # is sealed in the envelope, and fr-node, only a relay hop for it, recorded no plaintext facts: none shown.
    def fr_post_view() -> list[tuple[str, str, str, tuple[str, ...], str]]:
        return sorted(timeline(fr_post, it.item_id))
    expected = sorted([
        ("ARRIVED", aed.message_id, "FR/POST/MAIN", (), ""),
        ("AED_ACCEPTED", aed.message_id, "FR/POST/MAIN", (CUSTOMS,), ""),
        ("DELIVERED", aed.message_id, "FR/POST/MAIN", (CUSTOMS,), ""),
        ("ACKNOWLEDGED", aed.message_id, "FR/POST/MAIN", (CUSTOMS,), ""),
        ("CUSTOMS_DECISION", decided.message_id, CUSTOMS, ("FR/POST/MAIN",), ""),
        ("DELIVERED", decided.message_id, CUSTOMS, ("FR/POST/MAIN",), ""),
    ])
    seen: list[object] = []
    try:
        wait_for(lambda: seen.append(fr_post_view()) or seen[-1] == expected, timeout=60)
    finally:
        assert seen[-1] == expected
    # FR customs, on fr-node: only its assistance request (not the post's AED nor DE customs' decision).
    assert [k for k in timeline(fr_customs, it.item_id) if k[0] == "ASSISTANCE_REQUEST"] == [
        ("ASSISTANCE_REQUEST", request.message_id, "FR/CUSTOMS/MAIN", (CUSTOMS,), "")]
    assert {k[1] for k in timeline(fr_customs, it.item_id)} == {request.message_id}
    # DE customs, on de-node: the AED relayed in, its decision, the request addressed to it.
    wait_for(lambda: any(k[0] == "ASSISTANCE_REQUEST" for k in timeline(de_customs, it.item_id)), timeout=60)
    # Its own decision's outcome is known here (recorded in plaintext when it was submitted).
    assert {(k[0], k[1], k[4]) for k in timeline(de_customs, it.item_id)
            if k[0] in ("AED_ACCEPTED", "CUSTOMS_DECISION", "ASSISTANCE_REQUEST")} == {
        ("AED_ACCEPTED", aed.message_id, ""), ("CUSTOMS_DECISION", decided.message_id, "released"),
        ("ASSISTANCE_REQUEST", request.message_id, "")}
    # The DE tax authority took no part (no duties assessed): NOT_FOUND, as for an unknown item.
    [tl] = track(de_tax, it.item_id).items
    assert tl.error.code == code_pb2.NOT_FOUND and not tl.events
