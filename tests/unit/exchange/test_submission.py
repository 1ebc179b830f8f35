"""The submission state machine on a real node: refused (nothing stored), accepted once, or a duplicate.

A submit is checked, decoded, routed and sealed, then committed with one delivery per recipient
(``local`` or the hosting node); a retry with the same id and content gets the first answer back.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from gateway.api.swg.v1 import exchange_pb2
from gateway.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from gateway.exchange.submission import Submitted, Submitter, submit_digest
from gateway.node import Node
from gateway.store import states
from gateway.testing import aed_batch, inspection

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"


def aed_request(destination: str = "DE", **fields: object) -> exchange_pb2.SubmitRequest:
    content = aed_batch(destination=destination).SerializeToString()
    return exchange_pb2.SubmitRequest(format="swg.aed.v1", content=content, **fields)  # type: ignore[arg-type]


class Run:
    """A Submitter of the node, recording what it tells the delivery side."""

    def __init__(self, node: Node):
        self.node = node
        self.woken: list[tuple[str, ...]] = []
        self.submitter = Submitter(node, self.woken.append)

    def submit(self, sender: str, req: exchange_pb2.SubmitRequest) -> Submitted:
        return asyncio.run(self.submitter.submit(sender, req))


def in_seconds(s: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=s)


# --- the idempotency fingerprint -----------------------------------------------------------------------

def test_the_digest_covers_everything_but_the_message_id_and_leaves_the_request_as_it_was() -> None:
    a, b = aed_request(message_id="m-1"), aed_request(message_id="m-2")
    assert submit_digest(a) == submit_digest(b)
    assert a.message_id == "m-1"
    assert submit_digest(aed_request(message_id="m-1", conversation_id="c")) != submit_digest(a)
    assert submit_digest(aed_request(destination="FR", message_id="m-1")) != submit_digest(a)


# --- accepted ------------------------------------------------------------------------------------------

def test_an_accepted_submit_is_stored_with_a_queued_local_delivery_and_wakes_its_recipient(node: Node) -> None:
    run = Run(node)
    done = run.submit(POST, aed_request())
    r = done.response
    assert (r.document_type, list(r.recipients), r.duplicate) == ("swg.aed.v1", [CUSTOMS], False)
    assert r.message_id and r.conversation_id == r.message_id
    assert done.local_recipients == (CUSTOMS,)
    assert run.woken == [(CUSTOMS,)]
    st = node.store.status(r.message_id)
    assert (st.message.sender, st.message.origin) == (POST, "local")
    assert [(d.recipient, d.route, d.state, d.attempts) for d in st.deliveries] == [
        (CUSTOMS, "local", states.QUEUED, 0)]


def test_a_recipient_on_another_node_gets_a_delivery_routed_to_that_node_and_no_local_wake_up(node: Node) -> None:
    run = Run(node)
    done = run.submit(POST, aed_request(destination="FR"))
    assert list(done.response.recipients) == ["FR/CUSTOMS/MAIN"]
    assert done.local_recipients == ()
    assert run.woken == [()]
    [d] = node.store.status(done.response.message_id).deliveries
    assert (d.recipient, d.route, d.state) == ("FR/CUSTOMS/MAIN", "fr-node", states.QUEUED)


def test_the_submitters_ids_and_expiry_are_kept(node: Node) -> None:
    req = aed_request(message_id="msg-1", conversation_id="conv-1")
    req.expires_at.FromDatetime(in_seconds(3600))
    r = Run(node).submit(POST, req).response
    assert (r.message_id, r.conversation_id) == ("msg-1", "conv-1")
    st = node.store.status("msg-1")
    assert st.message.expires_us == req.expires_at.ToMicroseconds()


def test_without_an_expiry_the_message_lives_the_default_ttl(node: Node) -> None:
    r = Run(node).submit(POST, aed_request()).response
    m = node.store.status(r.message_id).message
    assert m.expires_us - m.created_us == node.config.limits.default_ttl_s * 1_000_000


def test_a_reply_joins_the_conversation_of_the_message_it_answers(node: Node) -> None:
    run = Run(node)
    aed = run.submit(POST, aed_request(conversation_id="conv-7")).response
    ids = [i.item_id for i in aed_batch(destination="DE").items]
    reply = exchange_pb2.SubmitRequest(format="swg.inspection.v1", content=inspection(ids).SerializeToString(),
                                       in_reply_to=aed.message_id)
    r = run.submit(CUSTOMS, reply).response
    assert r.conversation_id == "conv-7"
    assert list(r.recipients) == [POST]  # @item_sender


# --- duplicates ----------------------------------------------------------------------------------------

def test_a_retried_submit_gets_the_first_answer_and_stores_nothing_more(node: Node) -> None:
    run = Run(node)
    first = run.submit(POST, aed_request(message_id="msg-1")).response
    again = run.submit(POST, aed_request(message_id="msg-1"))
    assert again.response.duplicate
    for name in ("message_id", "conversation_id", "document_type", "recipients", "accepted_at"):
        assert getattr(again.response, name) == getattr(first, name), name
    assert again.local_recipients == ()
    assert run.woken == [(CUSTOMS,)]
    assert len(node.store.status("msg-1").deliveries) == 1


def test_a_known_id_with_other_content_or_from_another_sender_is_already_exists(node: Node) -> None:
    run = Run(node)
    run.submit(POST, aed_request(message_id="msg-1"))
    with pytest.raises(AlreadyExists, match="already used for different content"):
        run.submit(POST, aed_request(destination="FR", message_id="msg-1"))
    with pytest.raises(AlreadyExists):
        run.submit(CUSTOMS, aed_request(message_id="msg-1"))
    assert [d.recipient for d in node.store.status("msg-1").deliveries] == [CUSTOMS]


# --- refused: nothing stored ---------------------------------------------------------------------------

def refused(node: Node, sender: str, req: exchange_pb2.SubmitRequest, error: type[Exception]) -> Exception:
    run = Run(node)
    with pytest.raises(error) as err:
        run.submit(sender, req)
    assert run.woken == []
    if req.message_id:
        with pytest.raises(NotFound):
            node.store.status(req.message_id)
    return err.value


def test_a_sender_this_node_does_not_host_is_refused(node: Node) -> None:
    refused(node, "FR/POST/MAIN", aed_request(message_id="m-1"), PermissionDenied)


def test_content_over_the_nodes_limit_is_resource_exhausted(node: Node) -> None:
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=b"x" * 4097, message_id="m-1")
    err = refused(node, POST, req, ResourceExhausted)
    assert "limits.max_message_bytes" in str(err)


def test_malformed_request_fields_are_each_named(node: Node) -> None:
    req = exchange_pb2.SubmitRequest(format="", content=b"", message_id="bad id", conversation_id="ok",
                                     in_reply_to="x" * 129, recipients=[CUSTOMS, ""])
    req.expires_at.FromDatetime(in_seconds(-10))
    err = refused(node, POST, req, InvalidArgument)
    assert isinstance(err, InvalidArgument)
    assert [v.field for v in err.violations] == ["format", "content", "message_id", "in_reply_to", "recipients[1]",
                                                 "expires_at"]
    assert "is in the past" in err.violations[-1].description


def test_an_expiry_beyond_the_maximum_ttl_is_refused(node: Node) -> None:
    req = aed_request(message_id="m-1")
    req.expires_at.FromDatetime(in_seconds(2 * 86400))
    err = refused(node, POST, req, InvalidArgument)
    assert isinstance(err, InvalidArgument)
    assert [(v.field, v.description) for v in err.violations] == [
        ("expires_at", "is more than 86400 s ahead (limits.max_ttl_s)")]


def test_an_unknown_format_is_named(node: Node) -> None:
    req = exchange_pb2.SubmitRequest(format="acme.v9", content=b"<x/>", message_id="m-1")
    err = refused(node, POST, req, InvalidArgument)
    assert isinstance(err, InvalidArgument)
    assert [v.field for v in err.violations] == ["format"]


def test_a_document_the_format_cannot_read_is_invalid(node: Node) -> None:
    req = exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=b"<not-itmatt/>", message_id="m-1")
    err = refused(node, POST, req, InvalidArgument)
    assert "the upu.itmatt.v1 document is invalid" in str(err)


def test_a_reply_to_a_message_the_sender_had_no_part_in_is_refused(node: Node) -> None:
    err = refused(node, POST, aed_request(message_id="m-1", in_reply_to="someone-elses"), InvalidArgument)
    assert isinstance(err, InvalidArgument)
    assert [v.field for v in err.violations] == ["in_reply_to"]


def test_a_document_no_route_allows_is_refused(node: Node) -> None:
    refused(node, POST, aed_request(destination="IT", message_id="m-1"), PermissionDenied)


def test_a_refusal_does_not_stop_the_next_submit(node: Node) -> None:
    run = Run(node)
    with pytest.raises(PermissionDenied):
        run.submit(POST, aed_request(destination="IT", message_id="m-1"))
    assert run.submit(POST, aed_request(message_id="m-1")).response.recipients == [CUSTOMS]
