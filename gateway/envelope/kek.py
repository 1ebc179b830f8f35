"""Key-encryption keys (security argument: docs/evidence.md, "Key wraps" and "Crypto profiles").

The sender side (KekRing) reuses one HPKE-sealed KEK per recipient certificate for a bounded window;
the recipient side (OpenedKeks) remembers the KEKs it has opened so it pays one HPKE open per KEK.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.keys import ParticipantKeys, RecipientCertificate
from gateway.crypto.rotation import KEK_MAX_AGE_S, KEK_MAX_MESSAGES
from gateway.encoding import sha256
from gateway.errors import InvalidArgument

__all__ = ["KEK_MAX_AGE_S", "KEK_MAX_MESSAGES", "Kek", "KekRing", "OpenedKeks", "OPENED_KEKS", "new_kek"]

# Domain separation: a sealed KEK (reused across envelopes) can never be taken for a per-message
# direct wrap (info = a bare 32-byte digest).
_KEK_INFO = b"swg-kek-v1:"
# hybrid-pq KEKs have their own info, so a KEK sealed under one profile is never taken for the other's.
_KEK_INFO_PQ = b"swg-kek-pq-v1:"
# One suite object per profile for the process: construction is not free and encrypt/decrypt are stateless.
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
SUITE_PQ = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


@dataclass(eq=False)
class Kek:
    # Only the AES-GCM object is kept: the raw 32 bytes are not referenced after creation.
    aead: AESGCM = field(repr=False)
    sealed: bytes = field(repr=False)
    born: float
    uses: int = 0


def _kek_info(sender: str, hybrid: bool = False) -> bytes:
    return (_KEK_INFO_PQ if hybrid else _KEK_INFO) + sender.encode("utf-8")


def new_kek(sender: str, recipient: RecipientCertificate, born: float, hybrid: bool = False) -> Kek:
    """A fresh KEK sealed to ``recipient``: HPKE X25519, or MLKEM768_X25519 when ``hybrid``."""
    kek = AESGCM.generate_key(bit_length=256)
    if not hybrid:
        return Kek(AESGCM(kek), SUITE.encrypt(kek, recipient.public_key, info=_kek_info(sender)), born)
    public = recipient.hybrid_public_key
    if public is None:
        raise InvalidArgument(f"{recipient.participant} has no ML-KEM-768 key in the directory (hybrid-pq)")
    return Kek(AESGCM(kek), SUITE_PQ.encrypt(kek, public, info=_kek_info(sender, True)), born)


class KekRing:
    """The sealing node's KEKs, one per (sender, recipient encryption certificate), in memory only.

    A KEK wraps at most ``max_messages`` content keys and is used for at most ``max_age_s`` seconds,
    whichever ends first; ``max_messages <= 1`` or ``max_age_s <= 0`` gives a fresh KEK per message.
    A new process starts with none, and a recipient's new certificate gets its own KEK. Thread-safe.
    """

    def __init__(self, max_messages: int = KEK_MAX_MESSAGES, max_age_s: float = KEK_MAX_AGE_S, *,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 4096) -> None:
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._clock = clock
        self._max_entries = max_entries
        self._keks: OrderedDict[tuple[str, bytes, bytes], Kek] = OrderedDict()
        # Creating a KEK (one HPKE seal) under the lock keeps the per-KEK count exact.
        self._lock = threading.Lock()

    @property
    def reuses(self) -> bool:
        return self.max_messages > 1 and self.max_age_s > 0

    def __len__(self) -> int:
        return len(self._keks)

    def take(self, sender: str, recipient: RecipientCertificate, hybrid: bool = False) -> Kek:
        if not self.reuses:
            return new_kek(sender, recipient, 0.0, hybrid)
        # The slot names the profile's keys: a classic KEK is never reused for a hybrid envelope.
        slot = (sender, recipient.sha256, recipient.pq_sha256 if hybrid else b"")
        with self._lock:
            now = self._clock()
            kek = self._keks.get(slot)
            if kek is None or kek.uses >= self.max_messages or now - kek.born >= self.max_age_s:
                kek = self._keks[slot] = new_kek(sender, recipient, now, hybrid)
                while len(self._keks) > self._max_entries:
                    self._keks.popitem(last=False)
            self._keks.move_to_end(slot)
            kek.uses += 1
            return kek


class OpenedKeks:
    """Bounded LRU of KEKs a hosted recipient has opened, so it pays one HPKE open per KEK.

    The key holds everything the HPKE open depended on: the recipient's actual public key and
    certificate, the sender (the HPKE info) and the digest of the sealed blob. A blob that failed to
    open is never cached, so a lookup for another key, sender or blob is a miss and is opened for real.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[bytes, bytes, bytes, str, bytes], AESGCM] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def open(self, recipient: ParticipantKeys, sender: str, sealed: bytes, hybrid: bool = False) -> AESGCM:
        """Raises InvalidTag/ValueError when ``sealed`` does not open for this key and sender."""
        slot = (recipient.encryption_public_raw, recipient.encryption_cert_sha256,
                recipient.pq_encryption_sha256 if hybrid else b"", sender, sha256(sealed))
        with self._lock:
            aead = self._entries.get(slot)
            if aead is not None:
                self._entries.move_to_end(slot)
                return aead
        if hybrid:
            private = recipient.hybrid_encryption_key
            if private is None:
                raise ValueError(f"{recipient.participant} holds no ML-KEM-768 key on this node")
            aead = AESGCM(SUITE_PQ.decrypt(sealed, private, info=_kek_info(sender, True)))
        else:
            aead = AESGCM(SUITE.decrypt(sealed, recipient.encryption_key, info=_kek_info(sender)))
        with self._lock:
            self._entries[slot] = aead
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return aead


OPENED_KEKS = OpenedKeks()
