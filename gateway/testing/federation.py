"""Test PKIs: a federation in the real on-disk layout, plus deliberately wrong certificates.

Integration tests reuse this: ``make_federation(tmp_dir)`` gives the paths, the CA (to issue more),
a TrustStore and ready ParticipantKeys / RecipientCertificates for every participant.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa

from gateway import envelope
from gateway.crypto import composite, pki
from gateway.api.swg.v1.envelope_pb2 import EnvelopeHeader
from gateway.crypto.trust import TrustStore

PARTICIPANTS = pki.DEFAULT_PARTICIPANTS
NODES = pki.DEFAULT_NODES


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Federation:
    paths: pki.FederationPaths
    ca: pki.Authority
    trust: TrustStore
    _keys: dict[str, envelope.ParticipantKeys] = field(default_factory=dict)

    def keys(self, participant: str) -> envelope.ParticipantKeys:
        if participant not in self._keys:
            p = self.paths.participants[participant]
            self._keys[participant] = envelope.ParticipantKeys.from_files(
                participant, pki.key_reference(p.signing_key), p.signing_cert, p.encryption_key, p.encryption_cert,
                pq_signing_key=p.pq_signing_key, pq_encryption_key=p.pq_encryption_key,
            )
        return self._keys[participant]

    def recipient(self, participant: str, *, hybrid: bool = False) -> envelope.RecipientCertificate:
        """The encryption certificate (and with ``hybrid`` the ML-KEM-768 key, as the directory binds it)."""
        p = self.paths.participants[participant]
        pq = composite.load_mlkem_public(p.pq_encryption_pub) if hybrid else None
        return envelope.RecipientCertificate.from_pem(participant, p.encryption_cert.read_bytes(), pq)

    def recipients(self, participants: Sequence[str], *, hybrid: bool = False
                   ) -> list[envelope.RecipientCertificate]:
        return [self.recipient(p, hybrid=hybrid) for p in participants]

    def pq_signing_key(self, participant: str) -> mldsa.MLDSA65PublicKey | None:
        """envelope.PqSigningKeys over the federation's files: what a directory listing them all binds."""
        p = self.paths.participants.get(participant)
        return composite.load_mldsa_public(p.pq_signing_pub) if p is not None else None

    def trust_with_crl(self, revoked: Sequence[x509.Certificate]) -> TrustStore:
        """A fresh TrustStore whose CRL revokes ``revoked`` (files on disk are left alone)."""
        store = TrustStore(self.ca.cert)
        store.set_crl(pki.create_crl(self.ca, [pki.revoked_entry(c) for c in revoked]))
        return store


def make_federation(
    root: Path,
    *,
    nodes: Sequence[str] = NODES,
    participants: Sequence[str] = PARTICIPANTS,
    signing_algorithm: str = "ecdsa-p256",
    days: int = 30,
    pkcs11: pki.Pkcs11Keys | None = None,
) -> Federation:
    paths = pki.generate_federation(
        root, nodes, participants, signing_algorithm=signing_algorithm, days=days, force=True, pkcs11=pkcs11
    )
    return Federation(paths, pki.load_authority(paths.ca_dir), TrustStore.from_files(paths.ca_cert, paths.crl))


def header(sender: str, recipients: Sequence[str], **fields: object) -> EnvelopeHeader:
    h = EnvelopeHeader(
        message_id=str(fields.pop("message_id", uuid.uuid4())),
        conversation_id=str(fields.pop("conversation_id", uuid.uuid4())),
        sender=sender,
        recipients=list(recipients),
        document_type=str(fields.pop("document_type", "swg.aed.v1")),
    )
    h.source_format = str(fields.pop("source_format", h.document_type))
    h.created_at.FromDatetime(utcnow())
    h.expires_at.FromDatetime(utcnow() + dt.timedelta(days=1))
    for name, value in fields.items():
        setattr(h, name, value)
    return h


def signer_with(
    fed: Federation,
    participant: str,
    *,
    ca: pki.Authority | None = None,
    kind: str = "ecdsa-p256",
    profile: pki.Profile = pki.Profile.SIGNING,
    cert_participant: str | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
) -> envelope.ParticipantKeys:
    """``participant``'s keys with a freshly issued, possibly wrong, signing key and certificate.

    The encryption half is the participant's real one, so only the signature side is odd.
    """
    real = fed.keys(participant)
    key = pki.new_key(kind)
    cert = pki.issue_certificate(
        ca or fed.ca, key.public_key(), profile=profile, participant=cert_participant or participant,
        not_before=not_before, not_after=not_after, key_usage=key_usage,
    )
    return envelope.ParticipantKeys(participant, key, cert, real.encryption_key, real.encryption_cert)  # type: ignore[arg-type]


def other_ca() -> pki.Authority:
    return pki.create_ca("Some Other Federation CA")
