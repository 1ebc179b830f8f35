"""A SoftHSM2 token for tests: initialised by the test run itself with ``softhsm2-util``, in a temp dir.

SoftHSM2 reads ``SOFTHSM2_CONF`` and lists its tokens once, when a process first loads the module; tokens
made later are invisible to that process. So one process gets one token directory with the tokens every test
needs, made on first use (``softhsm()``), and tests tell their keys apart by object label.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from gateway.crypto import pki
from gateway.crypto import pkcs11 as pkcs11_mod

TOKEN = "swg-test"
OTHER_TOKEN = "swg-other"


def module_path() -> str:
    found = next((m for m in pkcs11_mod.DEFAULT_MODULES if Path(m).is_file()), None)
    if found is None:
        raise RuntimeError("SoftHSM2 is not installed (Debian: apt-get install softhsm2); .ci/run installs it")
    return found


@dataclass(frozen=True)
class SoftHsm:
    root: Path
    module: str
    pin: str
    pin_file: Path
    wrong_pin_file: Path

    def token_uri(self, token: str = TOKEN, *, pin_file: Path | None = None) -> str:
        """A URI naming a token (no key), its module and PIN file: for ``pki init --pkcs11``."""
        return f"pkcs11:token={token}?module-path={self.module}&pin-source=file:{pin_file or self.pin_file}"

    def key_uri(self, label: str, token: str = TOKEN, *, pin_file: Path | None = None) -> str:
        path, _, query = self.token_uri(token, pin_file=pin_file).partition("?")
        return f"{path};object={label}?{query}"

    def new_key(self, algorithm: str = "ecdsa-p256", token: str = TOKEN) -> tuple[str, object]:
        """A fresh key pair in the token under a unique label: (its URI, its public key)."""
        uri = self.key_uri(f"k-{uuid.uuid4().hex[:12]}", token)
        return uri, pkcs11_mod.generate_key(uri, algorithm)

    def keys(self, participants: frozenset[str] | None = None, *, node_token_keys: bool = False) -> pki.Pkcs11Keys:
        """For make_federation: these participants' signing keys in the token, under labels unique to this
        federation (one token serves every test of the process)."""
        return pki.Pkcs11Keys(self.token_uri(), participants=participants, node_token_keys=node_token_keys,
                              label_prefix=f"{uuid.uuid4().hex[:8]}-")


_lock = threading.Lock()
_instance: SoftHsm | None = None


def softhsm() -> SoftHsm:
    """The process's SoftHSM2: a temp token directory with tokens TOKEN and OTHER_TOKEN (made once)."""
    global _instance
    with _lock:
        if _instance is not None:
            return _instance
        if shutil.which("softhsm2-util") is None:
            raise RuntimeError("softhsm2-util not found (Debian: apt-get install softhsm2); .ci/run installs it")
        module = module_path()
        root = Path(tempfile.mkdtemp(prefix="swg-softhsm-"))
        (root / "tokens").mkdir()
        conf = root / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        pin = uuid.uuid4().hex[:12]
        for label in (TOKEN, OTHER_TOKEN):
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
                            "--so-pin", uuid.uuid4().hex[:12]], check=True, capture_output=True,
                           env={**os.environ, "SOFTHSM2_CONF": str(conf)})
        pin_file = root / "pin"
        pin_file.write_text(pin + "\n")
        pin_file.chmod(0o600)
        wrong = root / "wrong-pin"
        wrong.write_text("not-the-pin\n")
        _instance = SoftHsm(root, module, pin, pin_file, wrong)
        return _instance
