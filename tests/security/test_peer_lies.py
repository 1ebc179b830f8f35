"""A peer node that lies: what de-node takes over Peering.Relay from fr-node's pinned node certificate.

The test plays fr-node itself: it holds fr-node's TLS certificate and the keys of the participants fr-node
hosts (FR/POST/MAIN, FR/CUSTOMS/MAIN), so every envelope it relays verifies and comes from a sender its node
hosts. What it says inside is a lie of the kind a compromised or buggy node could tell. de-node must trust
it no more than a local submitter: the same header and document rules, receipts only from the message's
own recipients, assistance answers only inside an open case. Refusals are REJECTED (permanent) with the
field path and reason, nothing is stored, and they are audited on both nodes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2

from gateway import envelope
from gateway.api.swg.v1 import assistance_pb2, envelope_pb2, exchange_pb2, peering_pb2, peering_pb2_grpc
from gateway.evidence import auditor
from gateway.evidence import bundle as evidence
from gateway.federation.routing import attributes_of
from gateway.store.states import QUEUED
from gateway.testing.documents import aed_batch, inspection
from gateway.testing.federation import Federation, header, utcnow
from tests.security.harness import CUSTOMS, POST, SecurityNode
from tests.support import tally
from tests.support.two_nodes import TwoNodes, wait_for

FR_POST, FR_CUSTOMS = "FR/POST/MAIN", "FR/CUSTOMS/MAIN"
AED, INSPECTION = "swg.aed.v1", "swg.inspection.v1"
REQUEST, RESPONSE = "swg.assistance.request.v1", "swg.assistance.response.v1"
AGREEMENT = "CMAA-DE-FR-2004"


@pytest.fixture(scope="module")
def peer(secnode: SecurityNode) -> Iterator[peering_pb2_grpc.PeeringStub]:
    """A Relay stub to de-node presenting fr-node's own (pinned) node certificate."""
    fr = secnode.fed.paths.nodes["fr-node"]
    creds = grpc.ssl_channel_credentials(root_certificates=secnode.fed.paths.ca_cert.read_bytes(),
                                         private_key=fr.tls_key.read_bytes(), certificate_chain=fr.tls_cert.read_bytes())
    channel = grpc.secure_channel(secnode.address, creds, options=[("grpc.ssl_target_name_override", "de-node"),
                                                                   ("grpc.max_send_message_length", 64 << 20)])
    try:
        yield peering_pb2_grpc.PeeringStub(channel)
    finally:
        channel.close()


def lie(fed: Federation, sender: str, recipients: list[str], doc: Message, document_type: str = AED,
        *, fake_recipients: int = 0, attributes: dict[str, str] | None = None, **fields: Any) -> bytes:
    """An envelope signed by ``sender`` (hosted by fr-node) to ``recipients``, with whatever header it says.

    ``fake_recipients`` more recipients are named (and wrapped to) with ids that look right; routing
    attributes are those of the document unless ``attributes`` says otherwise.
    """
    certs = fed.recipients(recipients)
    certs += [envelope.RecipientCertificate(f"XX/POST/P{i:05d}", certs[0].certificate) for i in range(fake_recipients)]
    h = header(sender, [c.participant for c in certs], document_type=document_type, **fields)
    h.routing_attributes.update(attributes_of(document_type, doc)[0] if attributes is None else attributes)
    return envelope.seal(h, doc.SerializeToString(), fed.keys(sender), certs).data


def relay(peer: peering_pb2_grpc.PeeringStub, item: bytes | envelope_pb2.Receipt) -> peering_pb2.RelayResponse:
    req = (peering_pb2.RelayRequest(relay_id="1", envelope=item) if isinstance(item, bytes)
           else peering_pb2.RelayRequest(relay_id="1", receipt=item))
    [resp] = list(peer.Relay(iter([req]), timeout=60))
    return resp


def violations(resp: peering_pb2.RelayResponse) -> dict[str, str]:
    out: dict[str, str] = {}
    for detail in resp.error.details:
        br = error_details_pb2.BadRequest()
        if detail.Unpack(br):
            out.update({v.field: v.description for v in br.field_violations})
    return out


def refusals(secnode: SecurityNode, item: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail) | {"message_id": e.message_id, "actor": e.actor}
            for e in secnode.runner.node.store.audit_entries() if e.event == "refused"
            and json.loads(e.detail).get("via") == "relay" and json.loads(e.detail).get("item") == item]


def assert_rejected(secnode: SecurityNode, peer: peering_pb2_grpc.PeeringStub, item: bytes | envelope_pb2.Receipt,
                    code: int, text: str) -> peering_pb2.RelayResponse:
    """Relayed ``item`` is refused permanently with ``code`` and ``text`` in the reason, stores nothing, and
    the refusal (with that reason) is audited on de-node."""
    kind = "envelope" if isinstance(item, bytes) else "receipt"
    before, audited = secnode.counts(), len(refusals(secnode, kind))
    resp = relay(peer, item)
    ok = resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED and resp.error.code == code and text in resp.error.message
    tally.attack("peering", ok)
    assert resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED, resp
    assert code_pb2.Code.Name(resp.error.code) == code_pb2.Code.Name(code), resp.error.message
    assert text in resp.error.message
    assert secnode.counts() == before
    entry = wait_for(lambda: refusals(secnode, kind)[audited:])[-1]
    assert entry["actor"] == "fr-node" and text[:40] in entry["reason"]
    return resp


# --- 8. content: the header and document rules of a local submit -------------------------------------

def _bad_aed() -> Message:
    batch = aed_batch(1, origin="FR", destination="DE")
    it = batch.items[0]
    it.sender.name = "x" * 1_000_000
    it.addressee.name = "Erika\x07Mustermann"
    it.item_id = "RR123456789FR"  # wrong check digit
    it.gross_weight_kg = "-0.450"
    return batch


def test_a_lying_peers_document_gets_the_validation_of_a_local_submit(secnode: SecurityNode, peer: Any) -> None:
    resp = assert_rejected(secnode, peer, lie(secnode.fed, FR_POST, [CUSTOMS], _bad_aed()), code_pb2.INVALID_ARGUMENT,
                           "document is invalid")
    found = violations(resp)
    for path in ("items[0].sender.name", "items[0].addressee.name", "items[0].item_id", "items[0].gross_weight_kg"):
        assert path in found, found
    assert "more than the limit" in found["items[0].sender.name"] and "x" * 100 not in resp.error.message
    assert "U+0007" in found["items[0].addressee.name"]
    # The same items, told honestly, are taken: the refusal was the content's.
    honest = relay(peer, lie(secnode.fed, FR_POST, [CUSTOMS], aed_batch(1, origin="FR", destination="DE")))
    assert honest.outcome == peering_pb2.RELAY_OUTCOME_ACCEPTED, honest


@pytest.mark.parametrize("lie_kw, path, reason", [
    ({"expires_at": dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)}, "header.expires_at", "limits.max_ttl_s"),
    ({"fake_recipients": 5000}, "header.recipients", "at most 100"),
    ({"conversation_id": "c\x00nul"}, "header.conversation_id", "must be 1-128 characters"),
    ({"source_format": "../../etc/passwd"}, "header.source_format", "not a format"),
    ({"source_format": "upu.cusrsp.v1"}, "header.source_format", "carries swg.inspection.v1"),
    ({"attributes": {"destination_country": "FR", "origin_country": "FR"}}, "header.routing_attributes", "differ"),
], ids=["expires-9999", "5001-recipients", "nul-in-id", "unknown-format", "format-of-another-type",
        "lying-routing-attributes"])
def test_a_lying_peers_header_gets_the_rules_of_a_local_submit(secnode: SecurityNode, peer: Any,
                                                                lie_kw: dict[str, Any], path: str, reason: str) -> None:
    data = lie(secnode.fed, FR_POST, [CUSTOMS], aed_batch(1, origin="FR", destination="DE"), **lie_kw)
    resp = assert_rejected(secnode, peer, data, code_pb2.INVALID_ARGUMENT, path)
    assert reason in violations(resp)[path]


def test_a_lying_peer_cannot_answer_a_message_its_sender_took_no_part_in(secnode: SecurityNode, peer: Any) -> None:
    # DE/POST's AED for DE/CUSTOMS never left de-node; FR/CUSTOMS "answers" it with an inspection result.
    post = secnode.client(POST)
    batch = aed_batch(1, start=25000000, origin="FR", destination="DE")
    domestic = post.exchange.Submit(exchange_pb2.SubmitRequest(format=AED, content=batch.SerializeToString()),
                                    metadata=post.metadata, timeout=30)
    result = inspection([batch.items[0].item_id])
    answer = lie(secnode.fed, FR_CUSTOMS, [POST], result, INSPECTION, in_reply_to=domestic.message_id)
    resp = assert_rejected(secnode, peer, answer, code_pb2.INVALID_ARGUMENT, "header.in_reply_to")
    assert "neither sent nor received" in violations(resp)["header.in_reply_to"]
    # An answer to a message FR/CUSTOMS did receive is taken.
    to_fr, _ = _local_aed_to_fr(secnode)
    result = inspection([aed_batch(1, start=22000000, origin="DE", destination="FR").items[0].item_id])
    taken = relay(peer, lie(secnode.fed, FR_CUSTOMS, [POST], result, INSPECTION, in_reply_to=to_fr))
    assert taken.outcome == peering_pb2.RELAY_OUTCOME_ACCEPTED, taken


# --- 9. receipts only from the message's own recipients ------------------------------------------------

def _local_aed_to_fr(secnode: SecurityNode) -> tuple[str, bytes]:
    """DE/POST's AED for FR/CUSTOMS, waiting on de-node for fr-node (which is not running)."""
    post = secnode.client(POST)
    sent = post.exchange.Submit(exchange_pb2.SubmitRequest(
        format=AED, content=aed_batch(1, start=22000000, origin="DE", destination="FR").SerializeToString()),
        metadata=post.metadata, timeout=30)
    assert list(sent.recipients) == [FR_CUSTOMS]
    return sent.message_id, secnode.runner.node.store.message(sent.message_id).envelope_sha256


def _receipt_states(secnode: SecurityNode, message_id: str) -> tuple[str, ...]:
    """The receipts de-node holds for the message (recipient:kind)."""
    return tuple(sorted(f"{r.recipient}:{r.kind}" for r in secnode.runner.node.store.receipts_of(message_id)))


def test_an_acknowledged_receipt_from_a_non_recipient_is_refused(secnode: SecurityNode, peer: Any) -> None:
    message_id, digest = _local_aed_to_fr(secnode)
    assert _receipt_states(secnode, message_id) == ()
    # FR/POST is hosted by fr-node and signs with its own, valid key, but the message is not for it.
    forged = envelope.issue_receipt(message_id=message_id, envelope_sha256=digest,
                                    recipient=secnode.fed.keys(FR_POST), issuing_node="fr-node")
    assert_rejected(secnode, peer, forged, code_pb2.PERMISSION_DENIED, f"{FR_POST} is not a recipient")
    assert _receipt_states(secnode, message_id) == ()
    # The recipient's own key, but the signed payload lies about who issued it or when.
    for lying, text in (({"issuing_node": "x" * 5000}, "names another issuing node"),
                        ({"at": utcnow() + dt.timedelta(days=1)}, "dated in the future")):
        kw: dict[str, Any] = {"issuing_node": "fr-node"} | lying
        bad = envelope.issue_receipt(message_id=message_id, envelope_sha256=digest,
                                     recipient=secnode.fed.keys(FR_CUSTOMS), **kw)
        assert_rejected(secnode, peer, bad, code_pb2.PERMISSION_DENIED if "issuing" in text
                        else code_pb2.INVALID_ARGUMENT, text)
    assert _receipt_states(secnode, message_id) == ()
    # The recipient's own receipt is taken, and the message's evidence bundle verifies.
    real = envelope.issue_receipt(message_id=message_id, envelope_sha256=digest,
                                  recipient=secnode.fed.keys(FR_CUSTOMS), issuing_node="fr-node")
    assert relay(peer, real).outcome == peering_pb2.RELAY_OUTCOME_ACCEPTED
    assert _receipt_states(secnode, message_id) == (f"{FR_CUSTOMS}:acknowledged",)
    # Acknowledged before its "delivered" receipt came home: the delivery waits for the relay to fetch that
    # one too (docs/federation.md, "Answers lost in a crash"), holding the acknowledged receipt meanwhile.
    [delivery] = secnode.runner.node.store.status(message_id).deliveries
    assert (delivery.recipient, delivery.state) == (FR_CUSTOMS, QUEUED)
    node = secnode.runner.node
    bundle = auditor.export_evidence(node.store, message_id, auditor.checkpoint_signer(node.config), node.name)
    assert [r.recipient for r in evidence.verify_bundle(bundle, secnode.fed.trust).receipts] == [FR_CUSTOMS]


# --- 10. assistance answers only inside an open case ---------------------------------------------------

def _request(asker: str, asked: str) -> assistance_pb2.AssistanceRequest:
    r = assistance_pb2.AssistanceRequest(
        requesting_administration=asker, requested_administration=asked, agreement_reference=AGREEMENT,
        legal_basis="CMAA DE-FR art. 4", assistance_type=assistance_pb2.ASSISTANCE_TYPE_INFORMATION_ON_GOODS,
        information_category="goods", purpose="Verify the declared value of a held item",
        requesting_officer=assistance_pb2.Officer(name="Zollinspektorin Weber", officer_id="DE-0815"))
    r.deadline.FromSeconds(int(time.time()) + 86400)
    return r


def _answer(asker: str, asked: str, **over: Any) -> assistance_pb2.AssistanceResponse:
    a = assistance_pb2.AssistanceResponse(requesting_administration=asker, requested_administration=asked,
                                          agreement_reference=AGREEMENT, status=assistance_pb2.ASSISTANCE_STATUS_ANSWERED,
                                          answer="Invoice checked: value plausible")
    for k, v in over.items():
        setattr(a, k, v)
    return a


def _submit(secnode: SecurityNode, who: str, doc: Message, document_type: str, **kw: Any) -> Any:
    c = secnode.client(who)
    return c.exchange.Submit(exchange_pb2.SubmitRequest(format=document_type, content=doc.SerializeToString(), **kw),
                             metadata=c.metadata, timeout=30)


def test_a_relayed_assistance_answer_must_answer_an_open_case_from_the_administration_asked(
        secnode: SecurityNode, peer: Any) -> None:
    fed = secnode.fed
    # An answer "in reply to" an AED, addressed to the post that sent it: no case, whatever the customs saw.
    aed_id, _ = _local_aed_to_fr(secnode)
    to_post = lie(fed, FR_CUSTOMS, [POST], _answer(POST, FR_CUSTOMS), RESPONSE, in_reply_to=aed_id)
    assert_rejected(secnode, peer, to_post, code_pb2.FAILED_PRECONDITION, "names no assistance request")

    # DE/CUSTOMS asks FR/CUSTOMS: an open case on de-node (the request waits for fr-node).
    asked = _submit(secnode, CUSTOMS, _request(CUSTOMS, FR_CUSTOMS), REQUEST)
    case = {"in_reply_to": asked.message_id, "conversation_id": asked.conversation_id}
    for doc, text in ((_answer(CUSTOMS, FR_CUSTOMS, agreement_reference="CMAA-XX-1999"), "names agreement"),
                      (_answer("DE/TAX/MAIN", FR_CUSTOMS), "came from DE/CUSTOMS/MAIN")):
        assert_rejected(secnode, peer, lie(fed, FR_CUSTOMS, [CUSTOMS], doc, RESPONSE, **case),
                        code_pb2.PERMISSION_DENIED, text)
    # Filed under another conversation, the answer would be missing from the case the asker follows.
    elsewhere = lie(fed, FR_CUSTOMS, [CUSTOMS], _answer(CUSTOMS, FR_CUSTOMS), RESPONSE,
                    in_reply_to=asked.message_id, conversation_id="another-conversation")
    assert_rejected(secnode, peer, elsewhere, code_pb2.INVALID_ARGUMENT,
                    "continues the conversation of its request")
    # The answer the case asks for is taken (and taken again as a duplicate); a second answer is not.
    good = lie(fed, FR_CUSTOMS, [CUSTOMS], _answer(CUSTOMS, FR_CUSTOMS), RESPONSE, **case)
    assert relay(peer, good).outcome == peering_pb2.RELAY_OUTCOME_ACCEPTED
    assert relay(peer, good).outcome == peering_pb2.RELAY_OUTCOME_DUPLICATE
    wait_for(lambda: secnode.runner.node.store.assistance_case(asked.message_id).answer_message_id)
    again = lie(fed, FR_CUSTOMS, [CUSTOMS], _answer(CUSTOMS, FR_CUSTOMS), RESPONSE, **case)
    assert_rejected(secnode, peer, again, code_pb2.FAILED_PRECONDITION, "already answered")


def test_a_submitted_assistance_answer_must_answer_an_open_case_from_the_administration_asked(
        secnode: SecurityNode, peer: Any) -> None:
    fed = secnode.fed
    # FR/POST's AED reaches DE/CUSTOMS through the peer (an honest relay): DE/CUSTOMS took part in it.
    aed = aed_batch(1, start=23000000, origin="FR", destination="DE")
    aed_env = lie(fed, FR_POST, [CUSTOMS], aed)
    assert relay(peer, aed_env).outcome == peering_pb2.RELAY_OUTCOME_ACCEPTED
    aed_id = envelope.verify(aed_env, fed.trust).header.message_id

    def refused(doc: Message, in_reply_to: str, code: grpc.StatusCode, text: str) -> None:
        secnode.assert_refused("assistance", lambda: _submit(secnode, CUSTOMS, doc, RESPONSE, in_reply_to=in_reply_to),
                               code, text)

    refused(_answer(FR_POST, CUSTOMS), aed_id, grpc.StatusCode.FAILED_PRECONDITION, "names no assistance request")
    # DE/CUSTOMS cannot answer the request it made itself.
    own = _submit(secnode, CUSTOMS, _request(CUSTOMS, FR_CUSTOMS), REQUEST)
    refused(_answer(CUSTOMS, CUSTOMS), own.message_id, grpc.StatusCode.PERMISSION_DENIED, f"only {FR_CUSTOMS}")
    # FR/CUSTOMS asks DE/CUSTOMS (relayed in): the answer must stay under the request's agreement.
    request = lie(fed, FR_CUSTOMS, [CUSTOMS], _request(FR_CUSTOMS, CUSTOMS), REQUEST)
    assert relay(peer, request).outcome == peering_pb2.RELAY_OUTCOME_ACCEPTED
    request_id = envelope.verify(request, fed.trust).header.message_id
    wait_for(lambda: secnode.runner.node.store.assistance_case(request_id))
    refused(_answer(FR_CUSTOMS, CUSTOMS, agreement_reference="CMAA-XX-1999"), request_id,
            grpc.StatusCode.PERMISSION_DENIED, "names agreement")
    answered = _submit(secnode, CUSTOMS, _answer(FR_CUSTOMS, CUSTOMS), RESPONSE, in_reply_to=request_id)
    assert list(answered.recipients) == [FR_CUSTOMS]
    wait_for(lambda: secnode.runner.node.store.assistance_case(request_id).answer_message_id)
    refused(_answer(FR_CUSTOMS, CUSTOMS), request_id, grpc.StatusCode.FAILED_PRECONDITION, "already answered")


# --- a refusal, seen from the honest sending node --------------------------------------------------------

def test_a_refusal_reaches_the_sending_node_as_a_permanent_failure_with_its_reason(
        federation: Federation, tmp_path: Path) -> None:
    # de-node keeps messages for at most a day; fr-node lets its post ask for two.
    nodes = TwoNodes(federation, tmp_path, limits={"de-node": "default_ttl_s = 3600\nmax_ttl_s = 86400"})
    try:
        post = nodes.client("fr-node", FR_POST)
        req = exchange_pb2.SubmitRequest(format=AED, content=aed_batch(1, start=24000000).SerializeToString())
        req.expires_at.FromDatetime(utcnow() + dt.timedelta(days=2))
        sent = post.exchange.Submit(req, metadata=post.metadata, timeout=30)

        def status() -> Any:
            [r] = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=sent.message_id),
                                          metadata=post.metadata, timeout=30).recipients
            return r if r.state == exchange_pb2.DELIVERY_STATE_FAILED else None

        failed = wait_for(status)
        assert "refused by de-node" in failed.last_error and "header.expires_at" in failed.last_error
        assert failed.attempts <= 1  # not retried

        def audited(node: str, event: str) -> list[str]:
            return [json.loads(e.detail)["reason"] for e in nodes.runners[node].node.store.audit_entries()
                    if e.event == event and e.message_id == sent.message_id]

        assert any("header.expires_at" in r for r in wait_for(lambda: audited("fr-node", "failed")))
        assert any("header.expires_at" in r for r in wait_for(lambda: audited("de-node", "refused")))
        assert nodes.runners["de-node"].node.store.count("messages") == 0
    finally:
        nodes.close()
