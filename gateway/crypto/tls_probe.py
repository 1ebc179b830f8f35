"""A TLS handshake with a peer node, only to learn which certificate it presents (to compare with its pin)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from gateway.errors import Unavailable

PROBE_TIMEOUT_S = 5.0


def probe_certificate(address: str, ca: Path, cert: Path, key: Path, timeout: float = PROBE_TIMEOUT_S) -> bytes:
    """DER of the TLS certificate the node at ``address`` presents (chain checked against our CA)."""
    host, port = address.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the pin below is stricter than any name check
    ctx.load_verify_locations(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw:
        with ctx.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise Unavailable(f"{address} presented no certificate")
    return der
