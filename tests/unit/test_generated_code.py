"""The generated package must be exactly what scripts/gen_protos.py makes from protos/."""

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _diff(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    problems = [f"only in committed: {n}" for n in cmp.left_only] + [f"only in regenerated: {n}" for n in cmp.right_only]
    problems += [f"differs: {n}" for n in filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[1]]
    for sub in cmp.common_dirs:
        problems += _diff(a / sub, b / sub)
    return problems


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    out = tmp_path / "api"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--out", str(out)], check=True)
    assert _diff(ROOT / "gateway" / "api", out) == [], "run `make gen` and commit gateway/api"


def test_service_and_rpc_names_are_the_contract() -> None:
    from gateway.api.swg.v1 import admin_pb2, exchange_pb2, peering_pb2

    def methods(module, service):
        return {m.name for m in module.DESCRIPTOR.services_by_name[service].methods}

    assert methods(exchange_pb2, "Exchange") >= {"Submit", "SubmitStream", "Receive", "Acknowledge", "GetStatus",
                                                    "TrackItems"}
    assert methods(peering_pb2, "Peering") >= {"Relay"}
    assert methods(admin_pb2, "Admin") >= {"GetDirectory", "VerifyAudit", "GetKpis"}
    assert exchange_pb2.DESCRIPTOR.package == "swg.v1"
    fields = {f.name for f in exchange_pb2.SubmitRequest.DESCRIPTOR.fields}
    assert fields >= {"message_id", "format", "content", "recipients", "conversation_id", "in_reply_to"}
