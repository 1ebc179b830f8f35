"""The directory a message is routed under: the directory, its router and its participants' certificates.

A hot reload builds a new view and swaps it in as one reference, so a submit that took a view at its start
routes, seals and names formats under that one directory, even when a reload lands half-way through it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gateway.crypto.keys import RecipientCertificate
from gateway.federation.model import Directory
from gateway.errors import NotFound
from gateway.federation.routing import Lookup, Router


@dataclass(frozen=True)
class DirectoryView:
    directory: Directory
    router: Router
    # Certificates are read from disk on first use; the cache belongs to this view, so a reload that
    # changes a participant's certificate starts from an empty one.
    _certificates: dict[str, RecipientCertificate] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

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
            cert = RecipientCertificate.from_pem(participant, entry.encryption_certificate.read_bytes())
            with self._lock:
                cert = self._certificates.setdefault(participant, cert)
        return cert

    def preferred_format(self, participant: str, document_type: str) -> str:
        entry = self.directory.participants.get(participant)
        if entry is None:
            return document_type
        return entry.formats.get(document_type, document_type)
