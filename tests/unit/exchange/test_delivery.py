"""The delivery state machine on a real node: QUEUED → IN_FLIGHT (on a stream) → ACKNOWLEDGED,
back to QUEUED when the stream ends unacknowledged (handed out again, attempt + 1), FAILED when the
stored envelope cannot be opened. Receipts are signed by the node on the recipient's behalf.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from adapters import registry
from gateway import envelope
from gateway.api.swg.v1 import exchange_pb2, item_pb2
from gateway.errors import InvalidArgument, NotFound, PermissionDenied
from gateway.exchange.delivery import LocalDelivery
from gateway.exchange.submission import Submitter
from gateway.node import Node
from gateway.store import states
from gateway.testing import Federation, aed_batch
from tests.support.db import replace_envelope

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
T = TypeVar("T")


class Exchange:
    """Submitter and LocalDelivery of one node wired as the server wires them."""

    def __init__(self, node: Node):
        self.node = node
        self.local = LocalDelivery(node)
        self.submitter = Submitter(node, self.local.notify)

    async def submit(self, message_id: str, start: int = 12345678) -> str:
        content = aed_batch(destination="DE", start=start).SerializeToString()
        req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=content, message_id=message_id)
        return (await self.submitter.submit(POST, req)).response.message_id

    def state(self, message_id: str) -> tuple[int, int]:
        [d] = self.node.store.status(message_id).deliveries
        return d.state, d.attempts


def run(node: Node, scenario: Callable[[Exchange], Awaitable[T]]) -> T:
    return asyncio.run(scenario(Exchange(node)))


async def take(stream: AsyncIterator[exchange_pb2.Delivery], n: int) -> list[exchange_pb2.Delivery]:
    return [await anext(stream) for _ in range(n)]


def test_a_stream_hands_out_a_queued_delivery_in_the_recipients_preferred_format(node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        mid = await x.submit("m-1")
        stream = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest())
        [d] = await take(stream, 1)
        assert (d.message_id, d.sender, d.document_type, d.attempt) == (mid, POST, "swg.aed.v1", 1)
        assert d.format == "wco.ecommerce.v1"  # the directory's formats for DE/CUSTOMS/MAIN
        batch = registry.decode(d.format, d.content)[1]
        assert isinstance(batch, item_pb2.ItemBatch)
        assert [i.item_id for i in batch.items] == [i.item_id for i in aed_batch(destination="DE").items]
        assert d.envelope == b""
        assert x.state(mid) == (states.IN_FLIGHT, 1)
        await stream.aclose()

    run(node, scenario)


def test_the_format_asked_for_wins_when_it_is_one_of_the_documents_type(node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        await x.submit("m-1")
        await x.submit("m-2", start=22345678)
        asked = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest(format="upu.itmatt.v1", include_envelope=True))
        [d] = await take(asked, 1)
        assert d.format == "upu.itmatt.v1"
        assert d.envelope and envelope.open(d.envelope, node.keys_of(CUSTOMS), node.trust).header.message_id == "m-1"
        await asked.aclose()
        other = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest(format="upu.cusrsp.v1"))
        first, second = await take(other, 2)  # m-1 again (released), then m-2
        assert {first.format, second.format} == {"wco.ecommerce.v1"}
        await other.aclose()

    run(node, scenario)


def test_an_unknown_format_or_a_participant_not_hosted_here_is_refused_before_anything_is_claimed(
        node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        mid = await x.submit("m-1")
        with pytest.raises(InvalidArgument) as err:
            await anext(x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest(format="acme.v9")))
        assert [v.field for v in err.value.violations] == ["format"]
        with pytest.raises(PermissionDenied):
            await anext(x.local.stream("FR/CUSTOMS/MAIN", exchange_pb2.ReceiveRequest()))
        assert x.state(mid) == (states.QUEUED, 0)

    run(node, scenario)


def test_acknowledge_signs_a_receipt_for_the_sender_and_ends_the_delivery(node: Node, federation: Federation) -> None:
    async def scenario(x: Exchange) -> None:
        mid = await x.submit("m-1")
        stream = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest())
        [d] = await take(stream, 1)
        [receipt] = await x.local.acknowledge(CUSTOMS, [mid, mid])
        assert (receipt.message_id, receipt.recipient, receipt.issuing_node) == (mid, CUSTOMS, "de-node")
        assert receipt.envelope_sha256 == d.envelope_sha256
        verified = envelope.verify_receipt(receipt.jws, federation.trust)
        assert (verified.recipient, verified.issuing_node) == (CUSTOMS, "de-node")
        assert x.state(mid) == (states.ACKNOWLEDGED, 1)
        assert [r.kind for r in node.store.status(mid).receipts] == ["acknowledged"]
        await stream.aclose()
        assert x.state(mid) == (states.ACKNOWLEDGED, 1)  # nothing to hand back

    run(node, scenario)


def test_a_stream_that_ends_unacknowledged_hands_its_deliveries_back_and_the_next_one_is_attempt_2(
        node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        mid = await x.submit("m-1")
        first = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest())
        await take(first, 1)
        # The hand-back is queued to the writer as the stream ends, so the next claim (after it) sees it.
        await first.aclose()
        again = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest())
        [d] = await take(again, 1)
        assert (d.message_id, d.attempt) == (mid, 2)
        assert x.state(mid) == (states.IN_FLIGHT, 2)
        await again.aclose()

    run(node, scenario)


def test_what_was_handed_back_can_still_be_acknowledged(node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        mid = await x.submit("m-1")
        stream = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest())
        await take(stream, 1)
        await stream.aclose()
        [receipt] = await x.local.acknowledge(CUSTOMS, [mid])
        assert receipt.message_id == mid
        assert x.state(mid)[0] == states.ACKNOWLEDGED

    run(node, scenario)


def test_acknowledging_nothing_or_what_was_never_delivered_to_this_participant_is_refused(node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        mid = await x.submit("m-1")
        with pytest.raises(InvalidArgument):
            await x.local.acknowledge(CUSTOMS, [])
        with pytest.raises(NotFound, match="no-such"):
            await x.local.acknowledge(CUSTOMS, [mid, "no-such"])
        with pytest.raises(NotFound):
            await x.local.acknowledge("DE/TAX/MAIN", [mid])
        with pytest.raises(PermissionDenied):
            await x.local.acknowledge("FR/CUSTOMS/MAIN", [mid])
        assert x.state(mid) == (states.QUEUED, 0)

    run(node, scenario)


def test_an_envelope_that_cannot_be_opened_fails_its_delivery_and_the_stream_goes_on(node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        bad = await x.submit("m-bad")
        good = await x.submit("m-good", start=22345678)
        replace_envelope(node.store.url, bad, b"not an envelope")
        stream = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest())
        [d] = await take(stream, 1)
        assert d.message_id == good
        [failed] = node.store.status(bad).deliveries
        assert failed.state == states.FAILED
        assert failed.last_error
        assert failed.state in states.TERMINAL
        await stream.aclose()

    run(node, scenario)


def test_on_shutdown_open_streams_give_back_what_they_hold_and_claim_no_more(node: Node) -> None:
    async def scenario(x: Exchange) -> None:
        mid = await x.submit("m-1")
        stream = x.local.stream(CUSTOMS, exchange_pb2.ReceiveRequest())
        await take(stream, 1)
        await x.local.release_all()
        assert x.state(mid) == (states.QUEUED, 1)
        await stream.aclose()
        assert x.state(mid) == (states.QUEUED, 1)

    run(node, scenario)


def test_terminal_states_are_acknowledged_failed_and_expired() -> None:
    assert states.TERMINAL == {states.ACKNOWLEDGED, states.FAILED, states.EXPIRED}
    assert {states.NAMES[s] for s in states.TERMINAL} == {"ACKNOWLEDGED", "FAILED", "EXPIRED"}
    assert states.QUEUED == exchange_pb2.DELIVERY_STATE_QUEUED
    assert states.EXPIRED == exchange_pb2.DELIVERY_STATE_EXPIRED
