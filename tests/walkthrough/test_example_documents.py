"""Every document in examples/documents/ is accepted by the example federation's de-node, sent as the
participant it is written for: a newcomer's first try with the bundled files is never a refusal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ROOT / "examples" / "documents"

# file -> (client profile, how it is sent)
SENDERS = {
    "itmatt-fr-to-de.xml": ("de-node-de-post", ["submit", "--format", "upu.itmatt.v1"]),
    "itmatt-de-to-fr.xml": ("de-node-de-post", ["submit", "--format", "upu.itmatt.v1"]),
    "wco-aed-de-to-fr.json": ("de-node-de-post", ["submit", "--format", "wco.ecommerce.v1"]),
    "cusrsp-de-decisions.xml": ("de-node-de-customs", ["submit", "--format", "upu.cusrsp.v1"]),
    "assistance-request-de-to-fr.json": ("de-node-de-customs", ["assist", "request"]),
    "ips-export-to-de.xml": ("de-node-de-post", ["submit", "--format", "upu.ips.v1"]),
}


def test_every_bundled_document_is_named_here() -> None:
    assert sorted(p.name for p in DOCUMENTS.iterdir() if p.suffix in (".xml", ".json")) == sorted(SENDERS)


def test_every_bundled_document_is_accepted(checkout: Path) -> None:
    # The decisions answer the items of itmatt-fr-to-de.xml, so the items go first (dict order).
    for name, (profile, command) in SENDERS.items():
        done = subprocess.run([sys.executable, "-m", "gateway", *command, "--client",
                               f"examples/clients/{profile}.toml", f"examples/documents/{name}"],
                              cwd=checkout, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name} refused: {done.stderr}"
