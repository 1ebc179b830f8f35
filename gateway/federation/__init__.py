"""The federation: its directory (model, parser, signature), hot reload and the routing view.

The directory's public names are re-exported here; routing, view and watch are imported by their module
path (they sit on the exchange side and would otherwise load with every directory import).
"""

from __future__ import annotations

from gateway.federation.load import check, fit
from gateway.federation.model import (
    Agreement,
    Directory,
    DirectoryNode,
    DirectoryParticipant,
    DutyRule,
    RevenueRules,
    Route,
)
from gateway.federation.parse import COLLECTION_MODELS, DUTY_KINDS, load_directory, parse_directory, parse_directory_bytes
from gateway.federation.signature import (
    DirectorySignatureError,
    pin_certificates,
    read_signed_directory,
    signature_path,
)

__all__ = [
    "Agreement", "Directory", "DirectoryNode", "DirectoryParticipant", "DutyRule", "RevenueRules", "Route",
    "COLLECTION_MODELS", "DUTY_KINDS", "load_directory", "parse_directory", "parse_directory_bytes",
    "DirectorySignatureError", "pin_certificates", "read_signed_directory", "signature_path", "check", "fit",
]
