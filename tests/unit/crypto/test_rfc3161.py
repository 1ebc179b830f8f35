"""RFC 3161 stamps: our request is answered by ``openssl ts -reply``, our verification agrees with
``openssl ts -verify``, and every answer a third party would refuse is refused with its reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.crypto import timestamps
from tests.support.tsa import OPENSSL, LocalTsa

DATA = b'{"head":"abc","node":"node-a","seq":7}'


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTsa:
    return LocalTsa(tmp_path_factory.mktemp("tsa"))


def _stamp(tsa: LocalTsa, mode: str = "ok", policy: str | None = None) -> tuple[timestamps.TimestampRequest, bytes]:
    tsa.mode = mode
    req = timestamps.request(DATA, policy=policy)
    return req, tsa.reply(req.der)


def test_a_granted_stamp_verifies_here_and_with_openssl(tsa: LocalTsa, tmp_path: Path) -> None:
    req, resp = _stamp(tsa)
    stamp = timestamps.verify_response(resp, req, timestamps.load_ca_file(tsa.ca))
    assert stamp.policy == "1.3.6.1.4.1.55555.1.1" and stamp.serial >= 1 and "Test TSA" in stamp.tsa
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "token.der").write_bytes(stamp.token)
    ok = subprocess.run([OPENSSL, "ts", "-verify", "-data", str(tmp_path / "data"), "-in", str(tmp_path / "token.der"),
                         "-token_in", "-CAfile", str(tsa.ca)], capture_output=True, text=True)
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stdout + ok.stderr
    (tmp_path / "other").write_bytes(DATA + b" ")
    bad = subprocess.run([OPENSSL, "ts", "-verify", "-data", str(tmp_path / "other"), "-in",
                          str(tmp_path / "token.der"), "-token_in", "-CAfile", str(tsa.ca)], capture_output=True)
    assert bad.returncode != 0


def test_the_request_carries_sha256_imprint_nonce_and_cert_req(tsa: LocalTsa) -> None:
    req = timestamps.request(DATA, policy="1.3.6.1.4.1.55555.1.2")
    text = subprocess.run([OPENSSL, "ts", "-query", "-in", "/dev/stdin", "-text"], input=req.der,
                          capture_output=True, check=True).stdout.decode()
    assert "sha256" in text and "Certificate required: yes" in text and "1.3.6.1.4.1.55555.1.2" in text
    assert f"{req.nonce:X}".lstrip("0") in text.replace(":", "").upper().replace("0X", "")


def test_the_requested_policy_must_be_the_token_policy(tsa: LocalTsa) -> None:
    req, resp = _stamp(tsa, policy="1.3.6.1.4.1.55555.1.2")
    assert timestamps.verify_response(resp, req, timestamps.load_ca_file(tsa.ca)).policy == "1.3.6.1.4.1.55555.1.2"
    other = timestamps.TimestampRequest(req.der, req.digest, req.nonce, "1.3.6.1.4.1.55555.1.1")
    with pytest.raises(timestamps.TimestampInvalid, match="policy"):
        timestamps.verify_response(resp, other, timestamps.load_ca_file(tsa.ca))


@pytest.mark.parametrize(("mode", "reason"), [
    ("imprint", "message imprint"),
    ("signature", "signature does not verify"),
    ("untrusted", "does not chain"),
])
def test_wrong_answers_are_refused(tsa: LocalTsa, mode: str, reason: str) -> None:
    req, resp = _stamp(tsa, mode)
    with pytest.raises(timestamps.TimestampInvalid, match=reason):
        timestamps.verify_response(resp, req, timestamps.load_ca_file(tsa.ca))


def test_an_answer_to_another_request_is_refused_by_its_nonce(tsa: LocalTsa) -> None:
    req, resp = _stamp(tsa)
    again = timestamps.request(DATA)
    with pytest.raises(timestamps.TimestampInvalid, match="nonce"):
        timestamps.verify_response(resp, again, timestamps.load_ca_file(tsa.ca))


def test_a_refusal_and_garbage_say_what_they_are(tsa: LocalTsa) -> None:
    req = timestamps.request(DATA)
    # Unknown policy: openssl answers status rejection with a reason.
    tsa.mode = "ok"
    refused = tsa.reply(timestamps.request(DATA, policy="1.2.3.4").der)
    with pytest.raises(timestamps.TimestampInvalid, match="refused: status rejection"):
        timestamps.verify_response(refused, req, timestamps.load_ca_file(tsa.ca))
    with pytest.raises(timestamps.TimestampInvalid, match="not a TimeStampResp"):
        timestamps.verify_response(b"<html>502</html>", req, timestamps.load_ca_file(tsa.ca))


def test_a_tsa_certificate_without_the_timestamping_eku_is_refused(tsa: LocalTsa, tmp_path: Path) -> None:
    # The TSA's CA itself signs: a valid chain, but not a time-stamping certificate.
    tsa_ca_key = tsa.ca.with_name("ca.key")
    req = timestamps.request(DATA)
    resp = subprocess.run([OPENSSL, "ts", "-reply", "-config", str(tsa.dir / "trusted" / "ts.cnf"), "-queryfile",
                           "/dev/stdin", "-signer", str(tsa.ca), "-inkey", str(tsa_ca_key), "-out", "/dev/stdout"],
                          input=req.der, capture_output=True).stdout
    with pytest.raises(timestamps.TimestampInvalid):
        timestamps.verify_response(resp, req, timestamps.load_ca_file(tsa.ca))
