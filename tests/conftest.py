import sys
from pathlib import Path

import pytest

# Tests import shared helpers as ``tests.support``, whichever way pytest was started.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.testing.federation import Federation, make_federation  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Nodes run in-process by the tests log through the standard library, so pytest keeps their lines with the
    # test's report ("Captured log") instead of printing them into the run's output.
    import logging

    import structlog

    structlog.configure(processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
                        logger_factory=structlog.stdlib.LoggerFactory(),
                        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    """The example federation (2 nodes, 5 participants, ECDSA signers), built once per session."""
    return make_federation(tmp_path_factory.mktemp("federation"))


@pytest.fixture(scope="session", params=["ecdsa-p256", "ed25519"])
def offline_evidence(request: pytest.FixtureRequest, federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files a third party would be handed: CA, CRL, an envelope, a recipient's reveal, a receipt.

    Made here so that tests/unit/test_receipt_offline.py itself needs nothing from gateway.envelope.
    """
    from gateway import envelope
    from gateway.testing.federation import header, signer_with

    kind = request.param
    sender = signer_with(federation, "DE/POST/MAIN", kind=kind)
    recipient = signer_with(federation, "DE/CUSTOMS/MAIN", kind=kind)
    sealed = envelope.seal(header("DE/POST/MAIN", ["DE/CUSTOMS/MAIN", "DE/TAX/MAIN"]), b"<item>RR123456785DE</item>",
                           sender, federation.recipients(["DE/CUSTOMS/MAIN", "DE/TAX/MAIN"]))
    opened = envelope.open(sealed.data, recipient, federation.trust)
    receipt = envelope.issue_receipt(message_id=opened.header.message_id, envelope_sha256=opened.sha256,
                                     recipient=recipient, issuing_node="de-node")
    out = tmp_path_factory.mktemp(f"evidence-{kind}")
    (out / "ca.crt").write_bytes(federation.paths.ca_cert.read_bytes())
    (out / "crl.pem").write_bytes(federation.paths.crl.read_bytes())
    (out / "envelope.bin").write_bytes(sealed.data)
    (out / "reveal.bin").write_bytes(opened.salt + opened.payload)
    (out / "receipt.jws").write_text(receipt.jws)
    return out
