"""Offline evidence: verify a receipt, an envelope, a checkpoint or a whole evidence bundle with only the
federation CA certificate (and optionally its CRL). Needs no node config and no database.

Bundle layout (a zip; docs/evidence.md "Evidence bundle"):

    manifest.json          canonical JSON, recomputed by the verifier from the verified contents
    envelope.bin           the serialized swg.v1.Envelope exactly as stored
    receipts/<n>.jws       every receipt for the message, n = 1, 2, ...
    audit/entries.jsonl    the audit chain from the message's first entry up to the checkpoint seq
    audit/checkpoint.jws   the node-signed checkpoint whose head is the last entry of entries.jsonl

Every file is either signed (envelope, receipts, checkpoint), hash-linked to something signed
(entries), or recomputed from those (manifest), so altering, adding or removing any file fails.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway import envelope
from gateway.evidence import audit
from gateway.api.swg.v1 import envelope_pb2
from gateway.errors import GatewayError
from gateway.crypto.trust import TrustStore

BUNDLE_FORMAT = "swg-evidence-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
ENVELOPE = "envelope.bin"
ENTRIES = "audit/entries.jsonl"
CHECKPOINT = "audit/checkpoint.jws"
RECEIPTS_DIR = "receipts/"
# Events that record the node taking a message into its store, with the envelope digest.
INTAKE_EVENTS = frozenset({audit.ACCEPTED, audit.RELAY_RECEIVED})
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FILES = 10_000
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class EvidenceInvalid(Exception):
    """Names the file (or check) that failed, and why."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def entry_line(e: audit.AuditEntry) -> bytes:
    return json.dumps({"seq": e.seq, "at_us": e.at_us, "event": e.event, "message_id": e.message_id,
                       "actor": e.actor, "subject": e.subject, "detail": e.detail, "prev_hash": e.prev_hash.hex(),
                       "entry_hash": e.entry_hash.hex()}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode()


def _manifest(message_id: str, node: str, envelope_sha256: bytes, receipts: Sequence[str], first_seq: int,
              checkpoint_seq: int, message_seqs: Sequence[int]) -> bytes:
    return envelope.canonical_json({
        "format": BUNDLE_FORMAT, "v": BUNDLE_VERSION, "message_id": message_id, "node": node,
        "envelope_sha256": envelope_sha256.hex(), "receipts": list(receipts), "audit_first_seq": first_seq,
        "checkpoint_seq": checkpoint_seq, "message_entries": list(message_seqs)})


def _receipt_name(n: int) -> str:
    return f"{RECEIPTS_DIR}{n}.jws"


def build_bundle(*, message_id: str, node: str, envelope_bytes: bytes, receipts: Sequence[str],
                 entries: Sequence[audit.AuditEntry], checkpoint: audit.Checkpoint) -> bytes:
    """Zip the evidence of one message; ``entries`` run from its first entry up to ``checkpoint.seq``."""
    names = [_receipt_name(i + 1) for i in range(len(receipts))]
    files: dict[str, bytes] = {
        MANIFEST: _manifest(message_id, node, _sha256(envelope_bytes), names, entries[0].seq, checkpoint.seq,
                            [e.seq for e in entries if e.message_id == message_id]),
        ENVELOPE: envelope_bytes,
        ENTRIES: b"".join(entry_line(e) + b"\n" for e in entries),
        CHECKPOINT: checkpoint.jws.encode("ascii"),
    }
    for name, jws in zip(names, receipts):
        files[name] = jws.encode("ascii")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


@dataclass
class BundleReport:
    message_id: str
    node: str
    sender: str
    recipients: tuple[str, ...]
    document_type: str
    envelope_sha256: bytes
    receipts: list[envelope_pb2.Receipt] = field(default_factory=list)
    events: list[tuple[int, int, str, str, str]] = field(default_factory=list)  # seq, at_us, event, actor, subject
    checkpoint: audit.Checkpoint | None = None


def _read_zip(data: bytes) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise EvidenceInvalid(f"not a zip archive: {exc}") from None
    infos = zf.infolist()
    if len(infos) > MAX_FILES:
        raise EvidenceInvalid(f"bundle has {len(infos)} files, more than {MAX_FILES}")
    files: dict[str, bytes] = {}
    for info in infos:
        if info.filename in files:
            raise EvidenceInvalid(f"{info.filename}: listed twice")
        if info.file_size > MAX_FILE_BYTES:
            raise EvidenceInvalid(f"{info.filename}: larger than {MAX_FILE_BYTES} bytes")
        try:
            files[info.filename] = zf.read(info)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise EvidenceInvalid(f"{info.filename}: unreadable ({exc})") from None
    return files


def _entries(raw: bytes) -> list[audit.AuditEntry]:
    out: list[audit.AuditEntry] = []
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, line in enumerate(lines, 1):
        try:
            o = json.loads(line)
            e = audit.AuditEntry(int(o["seq"]), int(o["at_us"]), str(o["event"]), str(o["message_id"]),
                                 str(o["actor"]), str(o["subject"]), str(o["detail"]), bytes.fromhex(o["prev_hash"]),
                                 bytes.fromhex(o["entry_hash"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvidenceInvalid(f"{ENTRIES} line {n}: not an audit entry ({exc})") from None
        if entry_line(e) != line:
            raise EvidenceInvalid(f"{ENTRIES} line {n}: not canonically encoded")
        out.append(e)
    if not out:
        raise EvidenceInvalid(f"{ENTRIES}: no entries")
    return out


def _check_segment(entries: list[audit.AuditEntry]) -> None:
    prev = entries[0].prev_hash
    for i, e in enumerate(entries):
        if i and e.seq != entries[i - 1].seq + 1:
            raise EvidenceInvalid(f"{ENTRIES}: entry {e.seq} follows {entries[i - 1].seq} (gap or reorder)")
        if e.prev_hash != prev:
            raise EvidenceInvalid(f"{ENTRIES}: entry {e.seq}: prev_hash does not match the previous entry")
        if audit.entry_hash(e.seq, e.at_us, e.event, e.message_id, e.actor, e.subject, e.detail,
                            e.prev_hash) != e.entry_hash:
            raise EvidenceInvalid(f"{ENTRIES}: entry {e.seq}: content does not match its hash (edited)")
        prev = e.entry_hash


def _detail(e: audit.AuditEntry) -> dict[str, Any]:
    try:
        d = json.loads(e.detail)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def verify_bundle(data: bytes, trust: TrustStore, pq_keys: envelope.PqSigningKeys = envelope.NO_PQ_KEYS
                  ) -> BundleReport:
    """Verify an evidence bundle; raise EvidenceInvalid naming the first file or check that fails."""
    files = _read_zip(data)
    for required in (MANIFEST, ENVELOPE, ENTRIES, CHECKPOINT):
        if required not in files:
            raise EvidenceInvalid(f"{required}: missing")
    receipt_names = sorted((n for n in files if n.startswith(RECEIPTS_DIR)),
                           key=lambda n: (len(n), n))
    expected = {MANIFEST, ENVELOPE, ENTRIES, CHECKPOINT, *(_receipt_name(i + 1) for i in range(len(receipt_names)))}
    if set(files) != expected:
        raise EvidenceInvalid(f"unexpected files in the bundle: {', '.join(sorted(set(files) - expected))}")

    env_bytes = files[ENVELOPE]
    try:
        verified = envelope.verify(env_bytes, trust, pq_keys=pq_keys)
    except GatewayError as exc:
        raise EvidenceInvalid(f"{ENVELOPE}: {exc}") from None
    h = verified.header
    report = BundleReport(h.message_id, "", h.sender, tuple(h.recipients), h.document_type, verified.sha256)

    for name in receipt_names:
        try:
            jws = files[name].decode("ascii")
            r = envelope.verify_receipt(jws, trust, pq_keys=pq_keys)
        except (GatewayError, UnicodeDecodeError) as exc:
            raise EvidenceInvalid(f"{name}: {exc}") from None
        if r.message_id != h.message_id or r.envelope_sha256 != verified.sha256:
            raise EvidenceInvalid(f"{name}: receipt is for another message or another envelope")
        if r.recipient not in h.recipients:
            raise EvidenceInvalid(f"{name}: {r.recipient} is not a recipient of the envelope")
        report.receipts.append(r)

    entries = _entries(files[ENTRIES])
    _check_segment(entries)
    try:
        cp = audit.verify_checkpoint(files[CHECKPOINT].decode("ascii"), trust)
    except (audit.CheckpointInvalid, UnicodeDecodeError) as exc:
        raise EvidenceInvalid(f"{CHECKPOINT}: {exc}") from None
    last = entries[-1]
    if cp.seq != last.seq or cp.head_hash != last.entry_hash:
        raise EvidenceInvalid(f"{CHECKPOINT}: signed head is entry {cp.seq}, but {ENTRIES} ends at entry {last.seq} "
                              "or with another hash")
    report.node, report.checkpoint = cp.node, cp

    mine = [e for e in entries if e.message_id == h.message_id]
    if not any(e.event in INTAKE_EVENTS and _detail(e).get("envelope_sha256") == verified.sha256.hex()
               for e in mine):
        raise EvidenceInvalid(f"{ENTRIES}: no accepted/relay_received entry for {h.message_id} with this envelope's "
                              "digest")
    if mine[0] is not entries[0]:
        raise EvidenceInvalid(f"{ENTRIES}: must start at the message's first entry")
    logged = {_detail(e).get("receipt_sha256") for e in mine if e.event == audit.ACKNOWLEDGED} - {None}
    held = {_sha256(r.jws.encode("ascii")).hex(): r for r in report.receipts}
    if not logged <= set(held):
        raise EvidenceInvalid(f"{RECEIPTS_DIR}: a receipt recorded in the audit log is missing from the bundle")
    for digest, r in held.items():
        if r.issuing_node == cp.node and digest not in logged:
            raise EvidenceInvalid(f"{RECEIPTS_DIR}: receipt of {r.recipient} issued by {cp.node} is not in its audit log")
    report.events = [(e.seq, e.at_us, e.event, e.actor, e.subject) for e in mine]

    manifest = _manifest(h.message_id, cp.node, verified.sha256, receipt_names, entries[0].seq, cp.seq,
                         [e.seq for e in mine])
    if files[MANIFEST] != manifest:
        raise EvidenceInvalid(f"{MANIFEST}: does not match the verified contents")
    return report


# -- single files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileReport:
    kind: str  # "envelope", "receipt" or "checkpoint"
    lines: tuple[str, ...]


def _jws_typ(text: str) -> str:
    head = text.split(".", 1)[0]
    try:
        obj = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except ValueError:
        return ""
    return str(obj.get("typ", "")) if isinstance(obj, dict) else ""


def verify_file(data: bytes, trust: TrustStore, pq_keys: envelope.PqSigningKeys = envelope.NO_PQ_KEYS
                ) -> FileReport:
    """A receipt JWS, a checkpoint JWS or a binary sealed envelope; raise EvidenceInvalid if it fails."""
    stripped = data.strip()
    if stripped.startswith(b"eyJ"):
        text = stripped.decode("ascii", errors="replace")
        typ = _jws_typ(text)
        if typ == audit.CHECKPOINT_TYP:
            try:
                cp = audit.verify_checkpoint(text, trust)
            except audit.CheckpointInvalid as exc:
                raise EvidenceInvalid(f"checkpoint: {exc}") from None
            return FileReport("checkpoint", (f"node {cp.node} signed audit head entry {cp.seq} = {cp.head_hash.hex()}",
                                             f"at {cp.at_us} µs"))
        try:
            r = envelope.verify_receipt(text, trust, pq_keys=pq_keys)
        except GatewayError as exc:
            raise EvidenceInvalid(f"receipt: {exc}") from None
        return FileReport("receipt", (f"{r.recipient} received message {r.message_id}",
                                      f"envelope sha256 {r.envelope_sha256.hex()}",
                                      f"at {r.received_at.ToJsonString()} (issued by node {r.issuing_node})"))
    try:
        v = envelope.verify(data, trust, pq_keys=pq_keys)
    except GatewayError as exc:
        raise EvidenceInvalid(f"envelope: {exc}") from None
    h = v.header
    return FileReport("envelope", (f"{h.sender} signed message {h.message_id} ({h.document_type})",
                                   f"to {', '.join(h.recipients)}", f"envelope sha256 {v.sha256.hex()}",
                                   f"created {h.created_at.ToJsonString()}"))
