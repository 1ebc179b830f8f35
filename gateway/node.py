"""A node's runtime state, loaded once from its config: directory, trust, keys, store, router.

Everything the servicers and workers need hangs off ``Node``; nothing here knows gRPC's server objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from gateway import envelope
from gateway.codec import Codec
from gateway.crypto.tokens import Authenticator
from gateway.evidence.timestamping import TsaClient
from gateway.config import NodeConfig
from gateway.federation import Directory, check
from gateway.errors import ConfigError, FieldViolation, PermissionDenied
from gateway.telemetry.metrics import NodeMetrics
from gateway.federation.routing import Router
from gateway.federation.view import DirectoryView
from gateway.store import Store
from gateway.crypto.trust import TrustStore

log = structlog.get_logger("gateway.node")


@dataclass
class Node:
    config: NodeConfig
    # The directory, its router and certificates: swapped as one reference on hot reload (swap_view).
    view: DirectoryView
    trust: TrustStore
    store: Store
    keys: dict[str, envelope.ParticipantKeys]
    authenticator: Authenticator
    metrics: NodeMetrics = field(default_factory=NodeMetrics)
    # This process's key-encryption keys for sealing ([envelope]); memory only, fresh on every start.
    keks: envelope.KekRing = field(default_factory=envelope.KekRing)
    # Decode/encode of documents; large ones in worker processes once the server starts the pool.
    codec: Codec = field(default_factory=Codec)
    # Signs audit checkpoints and evidence bundles ([tokens] signing_key, a file or a pkcs11: URI); None = unsigned.
    checkpoint_signer: envelope.Signer | None = None
    # The RFC 3161 TSA that stamps checkpoints ([audit] tsa_url); None = checkpoints are not stamped.
    tsa: TsaClient | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def directory(self) -> Directory:
        return self.view.directory

    @property
    def router(self) -> Router:
        return self.view.router

    def swap_view(self, view: DirectoryView) -> None:
        self.view = view

    @classmethod
    def load(cls, config_path: str | Path, *, create_schema: bool | None = None) -> Node:
        cfg, directory = check(config_path)
        if not directory.signature:
            log.warning("RUNNING WITH AN UNSIGNED FEDERATION DIRECTORY (node.allow_unsigned_directory = true): "
                        "anyone who can write the directory file can reroute messages; development only",
                        directory=str(cfg.directory))
        trust = TrustStore.from_files(cfg.tls.ca, cfg.tls.crl)
        tsa = TsaClient.from_settings(cfg.audit)
        keys: dict[str, envelope.ParticipantKeys] = {}
        problems: list[FieldViolation] = []
        for i, p in enumerate(cfg.participants):
            try:
                keys[p.id] = envelope.ParticipantKeys.from_files(
                    p.id, p.signing_key, p.signing_cert, p.encryption_key, p.encryption_cert, cfg.pkcs11,
                    pq_signing_key=p.pq_signing_key, pq_encryption_key=p.pq_encryption_key)
            except Exception as exc:  # noqa: BLE001 - reported per participant with its config key
                problems.append(FieldViolation(f"participants[{i}]", f"keys of {p.id} are unusable: {exc}"))
                continue
            problems += _pq_key_problems(i, keys[p.id], directory)
        checkpoint_signer = None
        if cfg.tokens.signing_key is not None:
            try:
                checkpoint_signer = envelope.Signer.from_files(
                    cfg.tokens.signing_key, cfg.tokens.signing_certificate, cfg.pkcs11)
            except Exception as exc:  # noqa: BLE001 - reported with its config key
                problems.append(FieldViolation("tokens.signing_key", f"unusable: {exc}"))
        if problems:
            raise ConfigError(problems)
        store = Store(cfg.database_url, busy_timeout_ms=cfg.database_busy_timeout_ms,
                      max_pages=cfg.database_max_pages, group_commit_wait_ms=cfg.database_group_commit_wait_ms)
        if create_schema if create_schema is not None else cfg.database_auto_migrate:
            store.create_schema()
        authenticator = Authenticator(
            trust, issuer=cfg.tokens.issuer, audience=cfg.tokens.audience,
            token_certificate=cfg.tokens.signing_certificate, max_lifetime_s=cfg.tokens.max_lifetime_s,
            leeway_s=cfg.tokens.leeway_s)
        keks = envelope.KekRing(cfg.envelope.kek_max_messages, cfg.envelope.kek_max_age_s)
        return cls(config=cfg, view=DirectoryView.of(directory, store), trust=trust, store=store, keys=keys,
                   authenticator=authenticator, keks=keks, checkpoint_signer=checkpoint_signer,
                   codec=Codec(cfg.limits.offload_bytes, cfg.limits.codec_processes), tsa=tsa)

    def keys_of(self, participant: str) -> envelope.ParticipantKeys:
        keys = self.keys.get(participant)
        if keys is None:
            raise PermissionDenied(f"participant {participant} is not hosted by node {self.name}")
        return keys

    def recipient_certificate(self, participant: str) -> envelope.RecipientCertificate:
        return self.view.recipient_certificate(participant)

    def preferred_format(self, participant: str, document_type: str) -> str:
        return self.view.preferred_format(participant, document_type)

    def close(self) -> None:
        self.codec.close()
        self.store.close()
        # Sessions of keys in a PKCS#11 token (file keys have nothing to close).
        signers = [k.signing_key for k in self.keys.values()]
        if self.checkpoint_signer is not None:
            signers.append(self.checkpoint_signer.key)
        for signer in signers:
            close = getattr(signer, "close", None)
            if callable(close):
                close()


def _pq_key_problems(i: int, keys: envelope.ParticipantKeys, directory: Directory) -> list[FieldViolation]:
    """A hosted participant's PQ private keys must be the halves of the public keys the directory binds to it
    (else hybrid-pq envelopes to it never open and its composite signatures never verify)."""
    entry = directory.participants.get(keys.participant)
    out: list[FieldViolation] = []
    if entry is None:
        return out
    for key, held, pin in (("pq_signing_key", keys.pq_signing_sha256, entry.pq_signing_key_sha256),
                           ("pq_encryption_key", keys.pq_encryption_sha256, entry.pq_encryption_key_sha256)):
        if held and pin and held.hex() != pin:
            out.append(FieldViolation(f"participants[{i}].{key}", f"is not the private half of the {key} the "
                                      f"directory binds to {keys.participant}"))
    return out
