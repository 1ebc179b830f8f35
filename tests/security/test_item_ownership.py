"""Item-id squatting and derived-id squatting, against two real nodes over mTLS.

An item declared to a customs belongs to the post that declared it there first. Another post's AED for
it is refused, whether submitted locally or relayed in by a peer; decisions, and revenue notices, follow
the owner's AED only; a decision on items of several posts reaches each post with its own items only;
and the ids the node derives (revenue notices, decision parts) cannot be taken first by anyone.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator

import grpc
import pytest

from gateway import envelope
from gateway.api.swg.v1 import common_pb2, exchange_pb2 as S, inspection_pb2, item_pb2, peering_pb2, \
    peering_pb2_grpc, revenue_pb2
from gateway.clock import now_us
from gateway.errors import NotFound
from gateway.evidence import audit
from gateway.store.audit_log import ITEMS_UPDATED
from gateway.testing.documents import item, s10
from gateway.testing.federation import Federation, header
from gateway.testing.nodes import Client
from tests.support import tally
from tests.support.two_nodes import TwoNodes, wait_for

DE_POST, DE_CUSTOMS, DE_TAX = "DE/POST/MAIN", "DE/CUSTOMS/MAIN", "DE/TAX/MAIN"
FR_POST, FR_CUSTOMS = "FR/POST/MAIN", "FR/CUSTOMS/MAIN"
IOSS = "IM2760000017"
INSPECTION, AED = "swg.inspection.v1", "swg.aed.v1"
_serials = itertools.count(61000000, 10)


@pytest.fixture(scope="module")
def nodes(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    two = TwoNodes(federation, tmp_path_factory.mktemp("ownership"))
    try:
        yield two
    finally:
        two.close()


@pytest.fixture(scope="module")
def apps(nodes: TwoNodes) -> dict[str, Client]:
    return {DE_POST: nodes.client("de-node", DE_POST), DE_CUSTOMS: nodes.client("de-node", DE_CUSTOMS),
            DE_TAX: nodes.client("de-node", DE_TAX), FR_POST: nodes.client("fr-node", FR_POST)}


def fresh_items(n: int, value: str = "150.00") -> list[item_pb2.PostalItem]:
    """Items no test declared before (each test its own serials)."""
    start = next(_serials)
    return [item(start + i, value=value) for i in range(n)]


def with_ioss(it: item_pb2.PostalItem, value: str) -> item_pb2.PostalItem:
    """The same item id as ``it``, declared the way a squatter would: a tiny value and an IOSS number."""
    forged = item_pb2.PostalItem()
    forged.CopyFrom(it)
    forged.declared_value.amount = value
    forged.contents[0].value.amount = value
    forged.sender.tax_ids.add(type=common_pb2.TAX_ID_TYPE_IOSS, value=IOSS)
    return forged


def submit(client: Client, fmt: str, doc: object, **kw: object) -> S.SubmitResponse:
    return client.exchange.Submit(S.SubmitRequest(format=fmt, content=doc.SerializeToString(), **kw),  # type: ignore[attr-defined]
                                  metadata=client.metadata, timeout=30)


def status(client: Client, message_id: str) -> S.GetStatusResponse:
    return client.exchange.GetStatus(S.GetStatusRequest(message_id=message_id), metadata=client.metadata, timeout=10)


def drain(client: Client, document_type: str, count: int, fmt: str = "") -> list[S.Delivery]:
    """The next ``count`` deliveries of ``document_type`` (canonical protobuf), acknowledged."""
    got = client.receive(count, document_types=[document_type], format=fmt or document_type)
    assert len(got) == count
    client.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[d.message_id for d in got]),
                                metadata=client.metadata, timeout=10)
    return got


def nothing_for(client: Client, document_type: str) -> bool:
    """No delivery of ``document_type`` waits for ``client`` (a short Receive ends without any)."""
    try:
        return client.receive(1, timeout=1.5, document_types=[document_type]) == []
    except grpc.RpcError as err:
        return err.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def decided(item_ids: list[str], outcome: int = inspection_pb2.INSPECTION_OUTCOME_RELEASE,
            vat: str = "") -> inspection_pb2.InspectionResultBatch:
    batch = inspection_pb2.InspectionResultBatch(batch_reference="ZOLL-OWN")
    for i in item_ids:
        r = batch.results.add(item_id=i, outcome=outcome)
        r.decided_at.FromDatetime(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))  # duty de minimis 150
        if vat:
            r.taxes.add(type="VAT", rate="19", amount=common_pb2.Money(amount=vat, currency="EUR"))
            r.total_fee.CopyFrom(common_pb2.Money(amount=vat, currency="EUR"))
    return batch


def declared_at_customs(apps: dict[str, Client], aed_id: str, sender: Client) -> None:
    """The AED has reached German customs (delivered, or relayed in and delivered) and was taken."""
    wait_for(lambda: status(sender, aed_id).recipients[0].state in (S.DELIVERY_STATE_DELIVERED,
                                                                     S.DELIVERY_STATE_ACKNOWLEDGED))
    drain(apps[DE_CUSTOMS], AED, 1)


def audit_events(nodes: TwoNodes, node: str, event: str) -> list[audit.AuditEntry]:
    return [e for e in nodes.runners[node].node.store.audit_entries() if e.event == event]


def test_another_posts_aed_relayed_in_is_refused_and_the_decision_and_revenue_follow_the_owner(
        nodes: TwoNodes, apps: dict[str, Client]) -> None:
    de_post, fr_post, customs, tax = apps[DE_POST], apps[FR_POST], apps[DE_CUSTOMS], apps[DE_TAX]
    [genuine] = fresh_items(1, value="120.00")
    owned = submit(de_post, AED, item_pb2.ItemBatch(items=[genuine]))
    drain(customs, AED, 1)

    # A genuine post on another node declares the German post's item again: 1.00 EUR and an IOSS number.
    squat = submit(fr_post, AED, item_pb2.ItemBatch(items=[with_ioss(genuine, "1.00")]))
    failed = wait_for(lambda: (r := status(fr_post, squat.message_id).recipients[0]).state == S.DELIVERY_STATE_FAILED
                      and r)
    refused = f"items[0].item_id: {genuine.item_id} was declared to {DE_CUSTOMS} by another sender"
    tally.attack("ownership", refused in failed.last_error)
    assert failed.last_error.startswith("refused by de-node: ") and refused in failed.last_error
    [entry] = wait_for(lambda: [e for e in audit_events(nodes, "de-node", audit.REFUSED) if genuine.item_id in e.detail])
    assert entry.actor == "fr-node" and "declared to" in entry.detail
    assert nothing_for(customs, AED)  # the squatter's AED never reached German customs

    # German customs assesses duties: the decision goes to the owner (and the tax authority), not the squatter.
    decision = submit(customs, INSPECTION, decided([genuine.item_id], inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED,
                                                   vat="22.80"))
    assert sorted(decision.recipients) == [DE_POST, DE_TAX]
    [to_post] = drain(de_post, INSPECTION, 1)
    assert to_post.message_id == decision.message_id
    [notice_msg] = drain(tax, "swg.revenue.v1", 1)
    [notice] = revenue_pb2.RevenueNoticeBatch.FromString(notice_msg.content).notices
    # The owner's AED: 120.00 EUR, no IOSS number (buyer collection), not the squatter's 1.00 EUR.
    assert (notice.item_id, notice.declared_value.amount, notice.ioss_number) == (genuine.item_id, "120.00", "")
    assert notice.collection_model == revenue_pb2.COLLECTION_MODEL_BUYER
    drain(tax, INSPECTION, 1)
    assert nothing_for(fr_post, INSPECTION)
    assert status(de_post, owned.message_id).recipients[0].state == S.DELIVERY_STATE_ACKNOWLEDGED


def test_a_local_submit_declaring_an_item_another_post_owns_is_refused_naming_the_item(
        nodes: TwoNodes, apps: dict[str, Client]) -> None:
    de_post, fr_post, customs = apps[DE_POST], apps[FR_POST], apps[DE_CUSTOMS]
    items = fresh_items(4)
    theirs = submit(fr_post, AED, item_pb2.ItemBatch(items=[items[3]]))  # relayed in first: the owner
    declared_at_customs(apps, theirs.message_id, fr_post)

    before = nodes.runners["de-node"].node.store.count("messages")
    with pytest.raises(grpc.RpcError) as err:
        submit(de_post, AED, item_pb2.ItemBatch(items=items))
    refused = f"items[3].item_id: {items[3].item_id} was declared to {DE_CUSTOMS} by another sender"
    tally.attack("ownership", err.value.code() == grpc.StatusCode.FAILED_PRECONDITION)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused in err.value.details()
    assert nodes.runners["de-node"].node.store.count("messages") == before  # nothing stored
    # Audited (written after the answer: the refusal is not held up by it).
    wait_for(lambda: any(refused in e.detail for e in audit_events(nodes, "de-node", audit.REFUSED) if e.actor == DE_POST))

    # The items nobody else declared are the German post's to declare; the French post's item stays its own.
    mine = submit(de_post, AED, item_pb2.ItemBatch(items=items[:3]))
    drain(customs, AED, 1)
    decision = submit(customs, INSPECTION, decided([items[3].item_id]))
    assert list(decision.recipients) == [FR_POST]
    [got] = drain(fr_post, INSPECTION, 1)
    assert got.message_id == decision.message_id
    assert status(de_post, mine.message_id).recipients[0].state == S.DELIVERY_STATE_ACKNOWLEDGED


def test_the_owner_may_declare_its_item_again_which_is_audited_and_then_used(
        nodes: TwoNodes, apps: dict[str, Client]) -> None:
    de_post, customs, tax = apps[DE_POST], apps[DE_CUSTOMS], apps[DE_TAX]
    [first] = fresh_items(1, value="90.00")
    original = submit(de_post, AED, item_pb2.ItemBatch(items=[first]))
    corrected = item_pb2.PostalItem()
    corrected.CopyFrom(first)
    corrected.declared_value.amount = "95.00"
    update = submit(de_post, AED, item_pb2.ItemBatch(items=[corrected]))
    drain(customs, AED, 2)
    [entry] = [e for e in audit_events(nodes, "de-node", ITEMS_UPDATED) if e.message_id == update.message_id]
    assert (entry.actor, entry.subject) == (DE_POST, DE_CUSTOMS)
    assert first.item_id in entry.detail and original.message_id in entry.detail

    submit(customs, INSPECTION, decided([first.item_id], inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED, vat="18.05"))
    drain(de_post, INSPECTION, 1)
    drain(tax, INSPECTION, 1)
    [notice_msg] = drain(tax, "swg.revenue.v1", 1)
    [notice] = revenue_pb2.RevenueNoticeBatch.FromString(notice_msg.content).notices
    assert notice.declared_value.amount == "95.00"  # the owner's latest AED


def test_a_decision_on_items_of_two_posts_reaches_each_post_with_its_own_items_only(
        nodes: TwoNodes, apps: dict[str, Client]) -> None:
    de_post, fr_post, customs = apps[DE_POST], apps[FR_POST], apps[DE_CUSTOMS]
    de_items, fr_items = fresh_items(2), fresh_items(1)
    submit(de_post, AED, item_pb2.ItemBatch(items=de_items))
    drain(customs, AED, 1)
    theirs = submit(fr_post, AED, item_pb2.ItemBatch(items=fr_items))
    declared_at_customs(apps, theirs.message_id, fr_post)

    ids = [de_items[0].item_id, fr_items[0].item_id, de_items[1].item_id]
    decision = submit(customs, INSPECTION, decided(ids))
    assert sorted(decision.recipients) == [DE_POST, FR_POST]

    [de_got] = drain(de_post, INSPECTION, 1)
    [fr_got] = drain(fr_post, INSPECTION, 1)
    leaked = {"de": [r.item_id for r in inspection_pb2.InspectionResultBatch.FromString(de_got.content).results],
              "fr": [r.item_id for r in inspection_pb2.InspectionResultBatch.FromString(fr_got.content).results]}
    tally.attack("ownership", leaked == {"de": [ids[0], ids[2]], "fr": [ids[1]]})
    assert leaked == {"de": [ids[0], ids[2]], "fr": [ids[1]]}
    for got in (de_got, fr_got):
        # Each part is a message of its own: an id derived from the decision's with a random tail,
        # the decision's conversation, signed by German customs.
        assert re.fullmatch(rf"{re.escape(decision.message_id)}\.part-[0-9a-f]{{16}}", got.message_id)
        assert (got.sender, got.conversation_id) == (DE_CUSTOMS, decision.conversation_id)
    assert de_got.message_id != fr_got.message_id

    # Customs follows both parts under the one id it submitted: both acknowledged, with signed receipts.
    def acknowledged() -> dict[str, int]:
        st = status(customs, decision.message_id)
        return {r.recipient: len(r.receipts) for r in st.recipients
                if r.state == S.DELIVERY_STATE_ACKNOWLEDGED} == {DE_POST: 1, FR_POST: 2} and st
    st = wait_for(acknowledged)
    for r in st.recipients:
        for rc in r.receipts:
            v = envelope.verify_receipt(rc.jws, nodes.fed.trust)
            assert v.recipient == r.recipient and v.message_id == (de_got if r.recipient == DE_POST else fr_got).message_id
    # The decision has no delivery of its own, only its parts; once they are final, retention may take it too.
    later = now_us() + 86_400_000_000
    assert decision.message_id in nodes.runners["de-node"].node.store.archivable(later, 100_000)


def test_a_relayed_decision_giving_a_post_another_posts_items_is_refused(nodes: TwoNodes, apps: dict[str, Client],
                                                                         federation: Federation) -> None:
    # The German post declared one item to French customs; a peer relays French customs' decision on it and
    # on an item the German post never declared: de-node cannot re-seal it, so it refuses it whole.
    de_post = apps[DE_POST]
    to_france = item(next(_serials), destination="FR")
    submit(de_post, AED, item_pb2.ItemBatch(items=[to_france]))
    stranger = s10(next(_serials), country="FR")
    h = header(FR_CUSTOMS, [DE_POST], document_type=INSPECTION)
    sealed = envelope.seal(h, decided([to_france.item_id, stranger]).SerializeToString(),
                           federation.keys(FR_CUSTOMS), federation.recipients([DE_POST]))
    fr = federation.paths.nodes["fr-node"]
    creds = grpc.ssl_channel_credentials(root_certificates=federation.paths.ca_cert.read_bytes(),
                                         private_key=fr.tls_key.read_bytes(), certificate_chain=fr.tls_cert.read_bytes())
    with grpc.secure_channel(nodes.runners["de-node"].address, creds,
                             options=[("grpc.ssl_target_name_override", "de-node")]) as channel:
        [resp] = list(peering_pb2_grpc.PeeringStub(channel).Relay(
            iter([peering_pb2.RelayRequest(relay_id="1", envelope=sealed.data)]), timeout=10))
    tally.attack("ownership", resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED)
    assert resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED and resp.error.code == 7  # PERMISSION_DENIED
    assert f"results[1].item_id {stranger} is not one of them" in resp.error.message
    with pytest.raises(NotFound):
        nodes.runners["de-node"].node.store.message(h.message_id)


def test_the_revenue_notice_id_cannot_be_taken_first(nodes: TwoNodes, apps: dict[str, Client]) -> None:
    # The squatter knows customs' id scheme (DEC-<S10>) and takes "<decision id>.revenue" before customs decides.
    de_post, customs, tax = apps[DE_POST], apps[DE_CUSTOMS], apps[DE_TAX]
    [it] = fresh_items(1, value="200.00")
    submit(de_post, AED, item_pb2.ItemBatch(items=[it]))
    drain(customs, AED, 1)
    decision_id = f"DEC-{it.item_id}"
    for taken in (f"{decision_id}.revenue", f"{decision_id}.part-0000000000000000"):
        submit(de_post, AED, item_pb2.ItemBatch(items=[it]), message_id=taken)
    drain(customs, AED, 2)

    submit(customs, INSPECTION, decided([it.item_id], inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED, vat="38.00"),
           message_id=decision_id)
    drain(de_post, INSPECTION, 1)
    drain(tax, INSPECTION, 1)
    got = tax.receive(1, timeout=10, document_types=["swg.revenue.v1"], format="swg.revenue.v1")
    tally.attack("derived-id", len(got) == 1)
    [notice_msg] = got
    assert re.fullmatch(rf"{re.escape(decision_id)}\.revenue-[0-9a-f]{{16}}", notice_msg.message_id)
    [notice] = revenue_pb2.RevenueNoticeBatch.FromString(notice_msg.content).notices
    assert (notice.item_id, notice.inspection_message_id) == (it.item_id, decision_id)
    tax.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[notice_msg.message_id]), metadata=tax.metadata)

