"""The store's delivery states are the proto's: a stored state goes out on the API unchanged."""

from __future__ import annotations

from gateway.api.swg.v1 import exchange_pb2
from gateway.store.states import NAMES, TERMINAL, DeliveryState


def test_every_delivery_state_has_the_value_of_its_proto_enum() -> None:
    proto = {name: number for name, number in exchange_pb2.DeliveryState.items() if number != 0}
    assert {f"DELIVERY_STATE_{s.name}": s.value for s in DeliveryState} == proto


def test_names_and_terminal_states_follow_the_enum() -> None:
    assert NAMES == {s.value: s.name for s in DeliveryState}
    assert TERMINAL == {DeliveryState.ACKNOWLEDGED, DeliveryState.FAILED, DeliveryState.EXPIRED}
