"""Crypto profiles: ``classic`` and ``hybrid-pq``, and the federation's policy between them.

``classic``: key wraps with HPKE DHKEM(X25519), signatures ES256 or EdDSA (x5c).
``hybrid-pq``: key wraps with HPKE MLKEM768-X25519 (X-Wing style: the X25519 half is the participant's
certified encryption key, the ML-KEM-768 half the key the directory binds to it), and every envelope and
receipt signature a composite of the classic JWS and ML-DSA-65 (gateway.crypto.composite); a verifier
requires both halves.

The directory's ``[crypto]`` table chooses the profile; a move from classic to hybrid-pq has a transition
window (``transition_from`` .. ``transition_until``) in which both are accepted and hybrid is sent to every
recipient whose directory entry announces PQ keys. After it, classic envelopes and signatures are refused
(docs/federation.md, "Crypto profiles").
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import mldsa

from gateway.errors import ProfileRefused

__all__ = ["CLASSIC", "HYBRID_PQ", "PROFILES", "Phase", "CryptoPolicy", "PqSigningKeys", "NO_PQ_KEYS"]

CLASSIC = "classic"
HYBRID_PQ = "hybrid-pq"
PROFILES = (CLASSIC, HYBRID_PQ)


class Phase(enum.Enum):
    CLASSIC = "classic"          # classic sent; hybrid accepted when it verifies
    TRANSITION = "transition"    # both accepted; hybrid sent where every party announces PQ keys
    HYBRID = "hybrid"            # hybrid only; classic envelopes and signatures refused


def _utc(at: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) if at is None else at


@dataclass(frozen=True)
class CryptoPolicy:
    """The directory's choice. ``profile = "hybrid-pq"`` without a window is hybrid-only at once."""

    profile: str = CLASSIC
    transition_from: dt.datetime | None = None
    transition_until: dt.datetime | None = None

    def phase(self, at: dt.datetime | None = None) -> Phase:
        if self.profile == CLASSIC:
            return Phase.CLASSIC
        now = _utc(at)
        if self.transition_from is not None and now < self.transition_from:
            return Phase.CLASSIC
        if self.transition_until is not None and now < self.transition_until:
            return Phase.TRANSITION
        return Phase.HYBRID

    def accepts(self, profile: str, at: dt.datetime | None = None) -> bool:
        return profile == HYBRID_PQ or self.phase(at) is not Phase.HYBRID

    def require(self, profile: str, what: str, at: dt.datetime | None = None) -> None:
        """Raise ProfileRefused for a classic ``what`` once the window has closed (no downgrade)."""
        if not self.accepts(profile, at):
            closed = f" (the transition window closed at {self.transition_until.isoformat()})" \
                if self.transition_until is not None else ""
            raise ProfileRefused(f"{what} uses the {profile} crypto profile; this federation accepts only "
                                 f"{HYBRID_PQ}{closed}")

    def sealing_profile(self, announced: bool, at: dt.datetime | None = None) -> str:
        """The profile to seal (and sign) with; ``announced``: sender and every recipient have PQ keys."""
        phase = self.phase(at)
        if phase is Phase.CLASSIC:
            return CLASSIC
        if phase is Phase.TRANSITION:
            return HYBRID_PQ if announced else CLASSIC
        return HYBRID_PQ


class PqSigningKeys(Protocol):
    """Where a verifier finds the ML-DSA-65 public key the directory binds to a participant."""

    def pq_signing_key(self, participant: str) -> mldsa.MLDSA65PublicKey | None: ...


class _NoPqKeys:
    def pq_signing_key(self, participant: str) -> mldsa.MLDSA65PublicKey | None:
        return None


NO_PQ_KEYS: PqSigningKeys = _NoPqKeys()


def receipt_profile(policy: CryptoPolicy, envelope_profile: str, has_pq_key: bool,
                    at: dt.datetime | None = None) -> str:
    """A receipt is signed hybrid-pq for a hybrid-pq envelope (its sender knew the recipient's PQ keys) and
    for every envelope once the window closed; classic otherwise, so a peer on an older directory still
    verifies it during the transition."""
    if has_pq_key and (envelope_profile == HYBRID_PQ or policy.phase(at) is Phase.HYBRID):
        return HYBRID_PQ
    return CLASSIC
