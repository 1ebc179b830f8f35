"""The byte encodings every signed statement shares: base64url without padding, canonical JSON, SHA-256.

A leaf (no gateway imports) so that the directory, the audit log and the envelope agree on one spelling
of the same bytes. Strict decoding, which must refuse non-canonical input with a typed error, lives with
the JWS code in gateway.crypto.jws.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) for the values used here: sorted keys, no whitespace, UTF-8, integers only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
