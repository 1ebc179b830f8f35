"""The TrackItems view: every event kind the domain produces has its own proto value; errors keep their words."""

from __future__ import annotations

from google.rpc import code_pb2

from gateway.api.swg.v1 import exchange_pb2
from gateway.exchange import tracking
from gateway.transport.exchange_views import track_response

KINDS = (tracking.AED_ACCEPTED, tracking.CUSTOMS_DECISION, tracking.REVENUE_NOTICE, tracking.ASSISTANCE_REQUEST,
         tracking.MESSAGE, tracking.DELIVERED, tracking.ACKNOWLEDGED, tracking.ARRIVED, tracking.DEPARTED)


def test_each_event_kind_has_its_own_proto_value_and_times_are_timestamps() -> None:
    events = tuple(tracking.ItemEvent(1_700_000_000_123_456 + n, kind, "m1", "swg.aed.v1", "DE/POST/MAIN")
                   for n, kind in enumerate(KINDS))
    [item] = track_response([tracking.ItemTimeline("RR123456785DE", events)]).items
    values = [e.kind for e in item.events]
    assert exchange_pb2.ITEM_EVENT_KIND_UNSPECIFIED not in values
    assert len(set(values)) == len(KINDS)
    assert [exchange_pb2.ItemEventKind.Name(v) for v in values] == [f"ITEM_EVENT_KIND_{k.upper()}" for k in KINDS]
    assert item.events[0].at.ToMicroseconds() == 1_700_000_000_123_456
    assert not item.HasField("error")


def test_a_timeline_the_caller_may_not_see_is_not_found_with_no_events() -> None:
    err = tracking.not_found("RR123456785DE", "DE/TAX/MAIN")
    [item] = track_response([tracking.ItemTimeline("RR123456785DE", (), err)]).items
    assert item.error.code == code_pb2.NOT_FOUND
    assert item.error.message == "no item RR123456785DE in messages sent or received by DE/TAX/MAIN"
    assert not item.events
