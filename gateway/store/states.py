"""Delivery states, numbered as swg.v1.DeliveryState so that a stored state is its proto value."""

from __future__ import annotations

import enum


class DeliveryState(enum.IntEnum):
    # The store may not import the generated protos; tests/unit/store/test_states.py holds the two equal.
    QUEUED = 1
    IN_FLIGHT = 2
    DELIVERED = 3
    ACKNOWLEDGED = 4
    FAILED = 5
    EXPIRED = 6


QUEUED = DeliveryState.QUEUED
IN_FLIGHT = DeliveryState.IN_FLIGHT
DELIVERED = DeliveryState.DELIVERED
ACKNOWLEDGED = DeliveryState.ACKNOWLEDGED
FAILED = DeliveryState.FAILED
EXPIRED = DeliveryState.EXPIRED

NAMES = {s.value: s.name for s in DeliveryState}
# States after which nothing more happens to a delivery unless an operator retries it.
TERMINAL = frozenset({ACKNOWLEDGED, FAILED, EXPIRED})
