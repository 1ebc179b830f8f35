"""The directory a message is routed under: the directory, its router and its participants' certificates.

A hot reload builds a new view and swaps it in as one reference, so a submit that took a view at its start
routes, seals and names formats under that one directory, even when a reload lands half-way through it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from typing import Any

from gateway.crypto import composite
from gateway.crypto.keys import RecipientCertificate
from gateway.envelope.profiles import CryptoPolicy
from gateway.federation.model import Directory
from gateway.errors import NotFound
from gateway.federation.routing import Lookup, Router


@dataclass(frozen=True)
class DirectoryPqKeys:
    """envelope.PqSigningKeys of one directory: the ML-DSA-65 keys it binds (offline verification)."""

    directory: Directory

    def pq_signing_key(self, participant: str) -> Any:
        entry = self.directory.participants.get(participant)
        return composite.load_mldsa_public(entry.pq_signing_key) if entry and entry.pq_signing_key else None


@dataclass(frozen=True)
class DirectoryView:
    directory: Directory
    router: Router
    # Certificates are read from disk on first use; the cache belongs to this view, so a reload that
    # changes a participant's certificate starts from an empty one.
    _certificates: dict[str, RecipientCertificate] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # ML-DSA-65 public keys the directory binds to participants (hybrid-pq), read on first use.
    _pq_signing: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, directory: Directory, lookup: Lookup) -> DirectoryView:
        return cls(directory, Router(directory, lookup))

    @property
    def version(self) -> int:
        return self.directory.version

    def recipient_certificate(self, participant: str) -> RecipientCertificate:
        cert = self._certificates.get(participant)
        if cert is None:
            entry = self.directory.participants.get(participant)
            if entry is None:
                raise NotFound(f"participant {participant} is not in the directory")
            pq = composite.load_mlkem_public(entry.pq_encryption_key) if entry.pq_encryption_key else None
            cert = RecipientCertificate.from_pem(participant, entry.encryption_certificate.read_bytes(), pq)
            with self._lock:
                cert = self._certificates.setdefault(participant, cert)
        return cert

    @property
    def crypto(self) -> CryptoPolicy:
        return self.directory.crypto

    def announces_pq(self, participant: str) -> bool:
        entry = self.directory.participants.get(participant)
        return entry is not None and entry.announces_pq

    def pq_signing_key(self, participant: str) -> Any:
        """The ML-DSA-65 public key the directory binds to ``participant``, or None (PqSigningKeys)."""
        if participant in self._pq_signing:
            return self._pq_signing[participant]
        entry = self.directory.participants.get(participant)
        key = composite.load_mldsa_public(entry.pq_signing_key) if entry and entry.pq_signing_key else None
        with self._lock:
            return self._pq_signing.setdefault(participant, key)

    def preferred_format(self, participant: str, document_type: str) -> str:
        entry = self.directory.participants.get(participant)
        if entry is None:
            return document_type
        return entry.formats.get(document_type, document_type)
