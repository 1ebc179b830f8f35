"""Node configuration (one TOML file per node) as typed settings.

The federation directory (its model, parser and signature) lives in gateway.federation, which reads
these settings; this package imports nothing above gateway.crypto.
"""

from __future__ import annotations

from gateway.config.reader import ADDRESS, NODE_NAME, PARTICIPANT_ID
from gateway.config.settings import (
    DEFAULT_GROUP_COMMIT_WAIT_MS,
    MAX_GROUP_COMMIT_WAIT_MS,
    MAX_KEK_AGE_S,
    MAX_KEK_MESSAGES,
    MAX_PROCESSES,
    SCOPES,
    AuditSettings,
    RetentionSettings,
    DeliverySettings,
    EnvelopeSettings,
    HostedParticipant,
    Limits,
    NodeConfig,
    PeeringSettings,
    TlsSettings,
    TokenSettings,
    load_node_config,
    signature_path,
)

__all__ = [
    "ADDRESS", "NODE_NAME", "PARTICIPANT_ID", "DEFAULT_GROUP_COMMIT_WAIT_MS", "MAX_GROUP_COMMIT_WAIT_MS",
    "MAX_KEK_AGE_S", "MAX_KEK_MESSAGES", "MAX_PROCESSES", "SCOPES", "AuditSettings", "RetentionSettings", "DeliverySettings",
    "EnvelopeSettings", "HostedParticipant", "Limits", "NodeConfig", "PeeringSettings", "TlsSettings", "TokenSettings",
    "load_node_config", "signature_path",
]
