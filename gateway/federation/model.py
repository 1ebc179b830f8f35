"""The federation directory as typed values: nodes, participants, access rights, agreements, revenue rules.

One signed file (see gateway.federation.signature) describes the whole federation; gateway.federation.parse
turns it into a Directory, which is immutable: a hot reload builds a new one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.envelope.profiles import CryptoPolicy


@dataclass(frozen=True)
class DirectoryNode:
    name: str
    address: str
    # The node's TLS certificate: peers pin it (not just any certificate of the federation).
    tls_certificate: Path
    # SHA-256 (hex) of that certificate, computed at load; equal to the directory's pin when it has one.
    tls_certificate_sha256: str = ""


@dataclass(frozen=True)
class DirectoryParticipant:
    id: str
    node: str
    name: str
    encryption_certificate: Path
    # Preferred format per document type, e.g. {"swg.aed.v1": "wco.ecommerce.v1"}.
    formats: dict[str, str]
    encryption_certificate_sha256: str = ""
    # hybrid-pq: the participant's ML-KEM-768 and ML-DSA-65 public keys (PEM SPKI files, pinned by the
    # signed directory: cryptography cannot put these keys in X.509 certificates). None: it announces none.
    pq_encryption_key: Path | None = None
    pq_encryption_key_sha256: str = ""
    pq_signing_key: Path | None = None
    pq_signing_key_sha256: str = ""

    @property
    def announces_pq(self) -> bool:
        return self.pq_encryption_key is not None and self.pq_signing_key is not None


@dataclass(frozen=True)
class Route:
    """An access right and, when ``default``, a default route.

    ``senders``/``recipients`` are patterns (``*`` matches one id component, e.g. ``*/POST/*``);
    recipients may also be placeholders resolved per message, e.g. ``@item_sender``.
    ``when`` holds routing attributes that must all match (e.g. destination_country = "DE").
    """

    document_type: str
    senders: tuple[str, ...]
    recipients: tuple[str, ...]
    when: dict[str, str]
    default: bool


@dataclass(frozen=True)
class Agreement:
    """A bilateral mutual-assistance agreement: who may ask whom, for what, on which legal basis."""

    reference: str
    legal_basis: str
    parties: tuple[str, ...]
    # Administrations that may ask, and those that may be asked (patterns like routes).
    requesting: tuple[str, ...]
    requested: tuple[str, ...]
    # Empty means any.
    information_categories: tuple[str, ...]
    assistance_types: tuple[str, ...]


@dataclass(frozen=True)
class DutyRule:
    """One dated duty rule of a destination country (``[[revenue.CC.duty]]``).

    ``de_minimis``: no duty at or below ``threshold``. ``flat_per_subheading``: ``amount`` per distinct
    tariff subheading for items valued at or below ``threshold`` (None: any value), e.g. the EU's EUR 3
    from 1 July 2026.
    """

    effective_from: dt.date | None
    kind: str
    threshold: str | None
    amount: str | None


@dataclass(frozen=True)
class RevenueRules:
    """Revenue rules of one destination country: de minimis thresholds and the collection model."""

    country: str
    currency: str
    # Duty is not assessed at or below this intrinsic value; None: no duty de minimis.
    duty_de_minimis: str | None
    # VAT/GST is not collected at import at or below this value; None: due on every import.
    vat_de_minimis: str | None
    # "vendor", "intermediary", "buyer" or "hybrid" for low-value items; IOSS-covered items are "vendor".
    collection_model: str
    tax_authority: str
    # Dated duty rules, oldest first; the one in force at the decision time replaces duty_de_minimis.
    duty: tuple[DutyRule, ...] = ()


@dataclass(frozen=True)
class Directory:
    path: Path
    name: str
    version: int
    nodes: dict[str, DirectoryNode]
    participants: dict[str, DirectoryParticipant]
    routes: tuple[Route, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    revenue: dict[str, RevenueRules] = field(default_factory=dict)
    # Validation rule classes per destination country ([rules.CC]: rule id = "error" | "warning"), overriding
    # the defaults of adapters.validation.RULES for the items bound there.
    rules: dict[str, dict[str, str]] = field(default_factory=dict)
    # The exact bytes loaded (what the signature covers), their SHA-256 (hex) and the detached JWS
    # ("" when running unsigned under allow_unsigned_directory).
    data: bytes = field(repr=False, default=b"")
    sha256: str = ""
    signature: str = field(repr=False, default="")
    # Certificate keys without a *_sha256 pin; a signed directory must have none.
    unpinned: tuple[str, ...] = ()
    # [crypto]: the federation's crypto profile and transition window (gateway.envelope.profiles).
    crypto: CryptoPolicy = field(default_factory=CryptoPolicy)
