"""Default reuse window of a sender's key-encryption key (KEK).

Here, below both, because the node settings validate ``[envelope]`` against these defaults and the
envelope's KekRing applies them; neither should import the other for two numbers.
"""

from __future__ import annotations

# Default rotation of the sender's KEKs ([envelope] in the node config overrides them).
KEK_MAX_MESSAGES = 1000
KEK_MAX_AGE_S = 300.0
