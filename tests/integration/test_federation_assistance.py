"""Mutual assistance between FR and DE customs across two nodes: agreements, validation, answers, audit."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import json_format

from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, assistance_pb2, exchange_pb2
from tests.support.two_nodes import TwoNodes, wait_for

FR, DE = "FR/CUSTOMS/MAIN", "DE/CUSTOMS/MAIN"
S = exchange_pb2


def request(**over) -> assistance_pb2.AssistanceRequest:  # type: ignore[no-untyped-def]
    r = assistance_pb2.AssistanceRequest(
        requesting_administration=FR, requested_administration=DE, agreement_reference="CMAA-DE-FR-2004",
        legal_basis="CMAA DE-FR art. 4", assistance_type=assistance_pb2.ASSISTANCE_TYPE_INFORMATION_ON_GOODS,
        information_category="goods", purpose="Verify the declared value of a held item",
        requesting_officer=assistance_pb2.Officer(name="Inspecteur Martin", officer_id="FR-4711"))
    r.deadline.FromSeconds(int(time.time()) + 86400)
    for k, v in over.items():
        setattr(r, k, v)
    return r


def submit(client, doc, document_type: str, **kw) -> S.SubmitResponse:  # type: ignore[no-untyped-def]
    return client.exchange.Submit(S.SubmitRequest(format=document_type, content=doc.SerializeToString(), **kw),
                                  metadata=client.metadata, timeout=30)


def audit_events(nodes: TwoNodes, node: str, event: str) -> list[str]:
    return [e.message_id for e in nodes.runners[node].node.store.audit_entries() if e.event == event]


def test_request_without_agreement_is_refused_naming_it(nodes: TwoNodes) -> None:
    fr = nodes.client("fr-node", FR)
    with pytest.raises(grpc.RpcError) as err:
        submit(fr, request(agreement_reference="CMAA-XX-1999"), "swg.assistance.request.v1")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "no agreement 'CMAA-XX-1999'" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        submit(fr, request(information_category="bank accounts"), "swg.assistance.request.v1")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "bank accounts" in err.value.details()


def test_request_missing_required_fields_names_each_field(nodes: TwoNodes) -> None:
    fr = nodes.client("fr-node", FR)
    bad = request(purpose="")
    bad.ClearField("deadline")
    bad.requesting_officer.officer_id = ""
    with pytest.raises(grpc.RpcError) as err:
        submit(fr, bad, "swg.assistance.request.v1")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for path in ("purpose", "deadline", "requesting_officer.officer_id"):
        assert path in err.value.details()


def test_request_with_agreement_is_answered_across_nodes_and_both_are_audited(nodes: TwoNodes) -> None:
    fr, de = nodes.client("fr-node", FR), nodes.client("de-node", DE)
    asked = submit(fr, request(), "swg.assistance.request.v1")
    assert list(asked.recipients) == [DE]
    admin_fr = admin_pb2_grpc.AdminStub(fr.channel)
    [case] = admin_fr.ListAssistanceCases(admin_pb2.ListAssistanceCasesRequest(only_open=True),
                                          metadata=fr.metadata).cases
    assert case.request_message_id == asked.message_id and not case.answered and not case.overdue

    stream = de.exchange.Receive(S.ReceiveRequest(format="swg.assistance.request.v1+json"), metadata=de.metadata,
                                 timeout=30)
    got = next(iter(stream))
    stream.cancel()
    received = json_format.Parse(got.content, assistance_pb2.AssistanceRequest())
    assert received.purpose == "Verify the declared value of a held item"
    de.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[got.message_id]), metadata=de.metadata)

    answer = assistance_pb2.AssistanceResponse(requesting_administration=FR, requested_administration=DE,
                                               agreement_reference="CMAA-DE-FR-2004",
                                               status=assistance_pb2.ASSISTANCE_STATUS_ANSWERED,
                                               answer="Invoice checked: value 25.00 EUR is plausible")
    # The answer continues the request's conversation: filed under another, the requester would not find it there.
    with pytest.raises(grpc.RpcError) as err:
        submit(de, answer, "swg.assistance.response.v1", in_reply_to=asked.message_id,
               conversation_id="another-conversation")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "conversation_id" in err.value.details() and asked.conversation_id in err.value.details()
    answered = submit(de, answer, "swg.assistance.response.v1", in_reply_to=asked.message_id)
    assert list(answered.recipients) == [FR] and answered.conversation_id == asked.conversation_id

    wait_for(lambda: admin_fr.ListAssistanceCases(admin_pb2.ListAssistanceCasesRequest(), metadata=fr.metadata)
             .cases[0].answered)
    assert not admin_fr.ListAssistanceCases(admin_pb2.ListAssistanceCasesRequest(only_open=True),
                                            metadata=fr.metadata).cases
    for node in ("fr-node", "de-node"):
        assert audit_events(nodes, node, "assistance_request") == [asked.message_id]
        assert audit_events(nodes, node, "assistance_answer") == [answered.message_id]
