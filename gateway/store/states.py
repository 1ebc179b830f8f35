"""Delivery states; the numbers are those of swg.v1.DeliveryState so they map one to one."""

QUEUED = 1
IN_FLIGHT = 2
DELIVERED = 3
ACKNOWLEDGED = 4
FAILED = 5
EXPIRED = 6

NAMES = {QUEUED: "QUEUED", IN_FLIGHT: "IN_FLIGHT", DELIVERED: "DELIVERED", ACKNOWLEDGED: "ACKNOWLEDGED",
         FAILED: "FAILED", EXPIRED: "EXPIRED"}
# States after which nothing more happens to a delivery unless an operator retries it.
TERMINAL = frozenset({ACKNOWLEDGED, FAILED, EXPIRED})
