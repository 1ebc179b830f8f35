"""A local RFC 3161 TSA for tests: ``openssl ts -reply`` behind a small http.server.

The TSA's CA and certificate (EKU timeStamping, critical) are made with openssl in a temporary
directory. ``mode`` makes the TSA misbehave the ways the node must refuse: "imprint" stamps another
digest (nonce kept), "signature" flips a byte of the signature, "untrusted" signs with a certificate
of another CA. ``stop()`` and ``start()`` take the TSA down and bring it back on the same port.
"""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import threading
from pathlib import Path

from asn1crypto import tsp

OPENSSL = "/usr/bin/openssl"

_CNF = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {dir}/serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.1
other_policies = 1.3.6.1.4.1.55555.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_tsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _run(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run([OPENSSL, *args], input=data, capture_output=True, check=True).stdout


def make_tsa_pki(d: Path, name: str = "Test") -> tuple[Path, Path, Path]:
    """(ca.pem, tsa.pem, tsa.key) under ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    cnf = d / "ts.cnf"
    cnf.write_text(_CNF.format(dir=d))
    (d / "serial").write_text("01\n")
    ca_key, ca, key, csr, cert = d / "ca.key", d / "ca.pem", d / "tsa.key", d / "tsa.csr", d / "tsa.pem"
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key),
         "-out", str(ca), "-days", "30", "-subj", f"/CN={name} TSA Root", "-config", str(cnf),
         "-extensions", "v3_ca")
    _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
         "-out", str(csr), "-subj", f"/CN={name} TSA", "-config", str(cnf))
    _run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(cert), "-days", "30", "-extfile", str(cnf), "-extensions", "v3_tsa")
    return ca, cert, key


class LocalTsa:
    def __init__(self, d: Path):
        self.dir = d
        self.ca, self.cert, self.key = make_tsa_pki(d / "trusted")
        _, self.other_cert, self.other_key = make_tsa_pki(d / "other", "Other")
        self.mode = "ok"
        self.requests = 0
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    def reply(self, query: bytes) -> bytes:
        cert, key = (self.other_cert, self.other_key) if self.mode == "untrusted" else (self.cert, self.key)
        if self.mode == "imprint":
            req = tsp.TimeStampReq.load(query)
            req["message_imprint"]["hashed_message"] = hashlib.sha256(b"something else").digest()
            query = req.dump(force=True)
        with self._lock:  # openssl increments the serial file
            out = _run("ts", "-reply", "-config", str(self.dir / "trusted" / "ts.cnf"), "-queryfile", "/dev/stdin",
                       "-signer", str(cert), "-inkey", str(key), "-out", "/dev/stdout", data=query)
        if self.mode == "signature":
            resp = tsp.TimeStampResp.load(out)
            si = resp["time_stamp_token"]["content"]["signer_infos"][0]
            sig = bytearray(si["signature"].native)
            sig[-5] ^= 0x01
            si["signature"] = bytes(sig)
            out = resp.dump(force=True)
        return out

    def start(self) -> LocalTsa:
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                tsa.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415)
                    return
                out = tsa.reply(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
