"""`make demo` runs to the end: two nodes, AED → decisions → revenue notice → assistance, receipts verified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_plays_the_whole_exchange_and_exits_zero() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "[DE/CUSTOMS] received wco.ecommerce.v1" in out
    assert "[   FR/POST] received upu.cusrsp.v1 decisions from DE/CUSTOMS/MAIN: 3 items" in out
    assert "[    DE/TAX] received revenue notice from DE/CUSTOMS/MAIN" in out and "the buyer pays at import" in out
    assert "[    DE/TAX] rule applied: a flat duty per tariff subheading" in out
    assert "[FR/CUSTOMS] received the answer from DE/CUSTOMS/MAIN" in out
    assert out.count("signature verified") >= 9
    assert "both nodes stopped cleanly" in out
