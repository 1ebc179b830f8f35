"""Archive files of retention: their layout, how they are signed and hash-linked, and offline verification.

An archive is a zip (docs/evidence.md "7. Archives"):

    manifest.jws                       the node's signed manifest (token key, typ swg-archive-manifest+jws)
    messages/<n>/envelope.bin          the serialized swg.v1.Envelope exactly as stored, n = 1, 2, ...
    messages/<n>/receipts/<k>.jws      its receipts, k = 1, 2, ...
    audit/entries.jsonl                every audit entry about these messages (gateway.evidence.bundle's lines)
    audit/checkpoint.jws               a signed checkpoint covering all of those entries
    (+ the members ``inclusion_proofs`` adds)

The manifest names the sha256 of every other member, the messages, and the file name and sha256 of the
previous archive (as X-Road's archiver links its files), so the chain of files verifies with the federation
CA certificate alone: a changed byte, a missing file in the middle or a reordered chain fails naming the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway import envelope
from gateway.crypto.trust import Purpose, TrustStore
from gateway.errors import GatewayError
from gateway.evidence import audit
from gateway.evidence import bundle
from gateway.store import ArchivableMessage

ARCHIVE_FORMAT = "swg-archive"
ARCHIVE_VERSION = 1
MANIFEST_TYP = "swg-archive-manifest+jws"
MANIFEST = "manifest.jws"
ENTRIES = "audit/entries.jsonl"
CHECKPOINT = "audit/checkpoint.jws"
NAME_RE = re.compile(r"archive-(\d{8})\.zip")
MAX_MEMBERS = 200_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_MANIFEST_KEYS = frozenset({"format", "v", "node", "seq", "created_us", "prev", "messages", "members",
                            "checkpoint_seq"})


class ArchiveInvalid(Exception):
    """Names the archive file (and member) that failed, and why."""


def archive_name(seq: int) -> str:
    return f"archive-{seq:08d}.zip"


def inclusion_proofs(entries: Sequence[audit.AuditEntry], checkpoint: audit.Checkpoint) -> dict[str, bytes]:
    """Members proving each entry is in the log the checkpoint commits to.

    The hash-chained log needs none: entries carry their own hashes and the checkpoint pins the head.
    The Merkle log (issue 15, deliverable 1-2) returns here one RFC 9162 inclusion proof per entry (e.g.
    ``audit/proofs/<seq>.proof``) and its verification goes into ``verify_archive``; every member returned
    is listed in the manifest with its digest like any other."""
    del entries, checkpoint
    return {}


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _message_dir(n: int) -> str:
    return f"messages/{n}/"


def manifest_payload(*, node: str, seq: int, created_us: int, prev: tuple[str, bytes] | None,
                     messages: Sequence[tuple[str, bytes]], members: dict[str, bytes], checkpoint_seq: int) -> bytes:
    return envelope.canonical_json({
        "format": ARCHIVE_FORMAT, "v": ARCHIVE_VERSION, "node": node, "seq": seq, "created_us": created_us,
        "prev": None if prev is None else {"name": prev[0], "sha256": prev[1].hex()},
        "messages": [{"id": mid, "envelope_sha256": digest.hex()} for mid, digest in messages],
        "members": {name: _sha256(data).hex() for name, data in sorted(members.items())},
        "checkpoint_seq": checkpoint_seq,
    })


def build_archive(*, signer: envelope.Signer, node: str, seq: int, created_us: int, prev: tuple[str, bytes] | None,
                  messages: Sequence[ArchivableMessage], checkpoint: audit.Checkpoint) -> bytes:
    """The archive file's bytes. ``prev`` is (file name, sha256 of the file) of the previous archive."""
    members: dict[str, bytes] = {}
    entries: list[audit.AuditEntry] = []
    for n, m in enumerate(messages, start=1):
        members[_message_dir(n) + "envelope.bin"] = m.envelope
        for k, r in enumerate(m.receipts, start=1):
            members[f"{_message_dir(n)}receipts/{k}.jws"] = r.jws.encode()
        entries.extend(m.entries)
    entries.sort(key=lambda e: e.seq)
    if entries and checkpoint.seq < entries[-1].seq:
        raise ValueError(f"checkpoint {checkpoint.seq} does not cover entry {entries[-1].seq}")
    members[ENTRIES] = b"".join(bundle.entry_line(e) + b"\n" for e in entries)
    members[CHECKPOINT] = checkpoint.jws.encode()
    members.update(inclusion_proofs(entries, checkpoint))
    payload = manifest_payload(node=node, seq=seq, created_us=created_us, prev=prev,
                               messages=[(m.message_id, m.envelope_sha256) for m in messages], members=members,
                               checkpoint_seq=checkpoint.seq)
    return _zip_bytes(signer.sign(payload, typ=MANIFEST_TYP).encode("ascii"), members)


def _zip_bytes(manifest: bytes, members: dict[str, bytes]) -> bytes:
    # One canonical form (manifest first, then members by name, stored, fixed times, no comment) so that the
    # verifier can rebuild the file and leave no byte unchecked: zip metadata outside the members (times,
    # comments, padding) is covered by no digest. Stored, not deflated: compressed bytes depend on the zlib
    # build, and the envelopes (ciphertext) do not compress anyway.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo(MANIFEST, date_time=_FIXED_ZIP_TIME), manifest)
        for name in sorted(members):
            zf.writestr(zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME), members[name])
    return out.getvalue()


@dataclass(frozen=True)
class ArchiveManifest:
    node: str
    seq: int
    created_us: int
    prev: tuple[str, bytes] | None
    message_ids: tuple[str, ...]
    checkpoint_seq: int


def _read_zip(data: bytes) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ArchiveInvalid(f"{len(infos)} members, more than {MAX_MEMBERS}")
        files: dict[str, bytes] = {}
        for info in infos:
            if info.filename in files:
                raise ArchiveInvalid(f"{info.filename}: listed twice")
            if info.file_size > MAX_MEMBER_BYTES:
                raise ArchiveInvalid(f"{info.filename}: larger than {MAX_MEMBER_BYTES} bytes")
            files[info.filename] = zf.read(info)
        return files
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        # zlib.error is not an OSError; it is caught by the caller's broad check below.
        raise ArchiveInvalid(f"not a readable zip archive ({exc})") from None


def _manifest(jws: str, trust: TrustStore) -> dict[str, Any]:
    try:
        raw, _ = envelope.verify_jws(jws, trust, Purpose.TOKEN_SIGNING, typ=MANIFEST_TYP,
                                     at=dt.datetime.now(dt.timezone.utc))
        body = json.loads(raw)
    except GatewayError as exc:
        raise ArchiveInvalid(f"{MANIFEST}: signature: {exc}") from None
    except ValueError:
        raise ArchiveInvalid(f"{MANIFEST}: payload is not JSON") from None
    if (not isinstance(body, dict) or frozenset(body) != _MANIFEST_KEYS or body["format"] != ARCHIVE_FORMAT
            or body["v"] != ARCHIVE_VERSION or type(body["seq"]) is not int or type(body["created_us"]) is not int
            or not isinstance(body["members"], dict) or not isinstance(body["messages"], list)
            or type(body["checkpoint_seq"]) is not int or not isinstance(body["node"], str)):
        raise ArchiveInvalid(f"{MANIFEST}: not a version {ARCHIVE_VERSION} archive manifest")
    at = dt.datetime.fromtimestamp(body["created_us"] / 1_000_000, dt.timezone.utc)
    try:
        _, signer = envelope.verify_jws(jws, trust, Purpose.TOKEN_SIGNING, typ=MANIFEST_TYP, at=at)
    except GatewayError as exc:
        raise ArchiveInvalid(f"{MANIFEST}: signer certificate at {at.isoformat()}: {exc}") from None
    if signer != body["node"]:
        raise ArchiveInvalid(f"{MANIFEST}: signed by node {signer!r} but names node {body['node']!r}")
    return body


def _entries(raw: bytes) -> list[audit.AuditEntry]:
    out: list[audit.AuditEntry] = []
    for n, line in enumerate(raw.split(b"\n")[:-1], start=1):
        try:
            o = json.loads(line)
            e = audit.AuditEntry(o["seq"], o["at_us"], o["event"], o["message_id"], o["actor"], o["subject"],
                                 o["detail"], bytes.fromhex(o["prev_hash"]), bytes.fromhex(o["entry_hash"]))
        except (ValueError, KeyError, TypeError):
            raise ArchiveInvalid(f"{ENTRIES}: line {n} is not an audit entry") from None
        if bundle.entry_line(e) != line:
            raise ArchiveInvalid(f"{ENTRIES}: line {n} is not in canonical form")
        if audit.entry_hash(e.seq, e.at_us, e.event, e.message_id, e.actor, e.subject, e.detail,
                            e.prev_hash) != e.entry_hash:
            raise ArchiveInvalid(f"{ENTRIES}: entry {e.seq} does not match its hash (edited)")
        if out and e.seq <= out[-1].seq:
            raise ArchiveInvalid(f"{ENTRIES}: entry {e.seq} out of order")
        out.append(e)
    return out


def verify_archive(data: bytes, trust: TrustStore) -> ArchiveManifest:
    """One archive on its own: manifest signature, every member's digest, no member unlisted, the entries'
    hashes, the checkpoint's signature and coverage, and each envelope's digest against the manifest and
    its intake entry."""
    try:
        files = _read_zip(data)
    except ArchiveInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt deflate stream (zlib.error) is a bad archive too
        raise ArchiveInvalid(f"not a readable zip archive ({type(exc).__name__}: {exc})") from None
    if MANIFEST not in files:
        raise ArchiveInvalid(f"no {MANIFEST}")
    manifest_bytes = files.pop(MANIFEST)
    try:
        body = _manifest(manifest_bytes.decode("ascii"), trust)
    except UnicodeDecodeError:
        raise ArchiveInvalid(f"{MANIFEST}: not a JWS") from None
    listed: dict[str, str] = body["members"]
    for name in sorted(set(files) | set(listed)):
        if name not in listed:
            raise ArchiveInvalid(f"{name}: not listed in the manifest")
        if name not in files:
            raise ArchiveInvalid(f"{name}: listed in the manifest but missing")
        if _sha256(files[name]).hex() != listed[name]:
            raise ArchiveInvalid(f"{name}: sha256 differs from the manifest")
    for name in (ENTRIES, CHECKPOINT):
        if name not in files:
            raise ArchiveInvalid(f"{name}: missing")
    entries = _entries(files[ENTRIES])
    try:
        cp = audit.verify_checkpoint(files[CHECKPOINT].decode("ascii"), trust)
    except (audit.CheckpointInvalid, UnicodeDecodeError) as exc:
        raise ArchiveInvalid(f"{CHECKPOINT}: {exc}") from None
    if cp.node != body["node"] or cp.seq != body["checkpoint_seq"]:
        raise ArchiveInvalid(f"{CHECKPOINT}: not the checkpoint the manifest names")
    if entries and entries[-1].seq > cp.seq:
        raise ArchiveInvalid(f"{ENTRIES}: entry {entries[-1].seq} is after the checkpoint {cp.seq}")
    intake: dict[str, str] = {}
    for e in entries:
        if e.event in bundle.INTAKE_EVENTS:
            digest = json.loads(e.detail).get("envelope_sha256")
            if isinstance(digest, str):
                intake.setdefault(e.message_id, digest)
    ids: list[str] = []
    for n, m in enumerate(body["messages"], start=1):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str) or not isinstance(m.get("envelope_sha256"), str):
            raise ArchiveInvalid(f"{MANIFEST}: message {n} is malformed")
        env = files.get(_message_dir(n) + "envelope.bin")
        if env is None:
            raise ArchiveInvalid(f"{_message_dir(n)}envelope.bin: missing")
        if _sha256(env).hex() != m["envelope_sha256"]:
            raise ArchiveInvalid(f"{_message_dir(n)}envelope.bin: not the envelope of {m['id']}")
        if m["id"] in intake and intake[m["id"]] != m["envelope_sha256"]:
            raise ArchiveInvalid(f"{_message_dir(n)}envelope.bin: differs from the digest its audit entry logged")
        ids.append(m["id"])
    if _zip_bytes(manifest_bytes, files) != data:
        raise ArchiveInvalid("not the canonical zip of its members: bytes outside the members were changed")
    prev = body["prev"]
    link: tuple[str, bytes] | None = None
    if prev is not None:
        if not isinstance(prev, dict) or not isinstance(prev.get("name"), str) or not isinstance(prev.get("sha256"), str):
            raise ArchiveInvalid(f"{MANIFEST}: prev is malformed")
        link = (prev["name"], bytes.fromhex(prev["sha256"]))
    return ArchiveManifest(body["node"], body["seq"], body["created_us"], link, tuple(ids), body["checkpoint_seq"])


@dataclass(frozen=True)
class ChainReport:
    archives: int
    messages: int
    head: tuple[str, bytes] | None


def archive_files(directory: Path) -> list[Path]:
    """The archive files of a folder in chain order (by the seq in their names); other files are ignored."""
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := NAME_RE.fullmatch(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def verify_chain(directory: Path, trust: TrustStore) -> ChainReport:
    """Every archive of ``directory`` and the links between them, from the first (seq 1) to the last."""
    if not directory.is_dir():
        raise ArchiveInvalid(f"{directory}: not a folder")
    prev: tuple[str, bytes] | None = None
    node: str | None = None
    count = 0
    for n, path in enumerate(archive_files(directory), start=1):
        data = path.read_bytes()
        try:
            man = verify_archive(data, trust)
        except ArchiveInvalid as exc:
            raise ArchiveInvalid(f"{path.name}: {exc}") from None
        if man.seq != int(NAME_RE.fullmatch(path.name).group(1)):  # type: ignore[union-attr]
            raise ArchiveInvalid(f"{path.name}: its manifest says it is archive {man.seq} (renamed or reordered)")
        if man.seq != n:
            raise ArchiveInvalid(f"{path.name}: archive {n} of the chain is missing")
        if node is not None and man.node != node:
            raise ArchiveInvalid(f"{path.name}: written by node {man.node!r}, the chain by {node!r}")
        if man.prev != prev:
            want = "none" if prev is None else f"{prev[0]} with sha256 {prev[1].hex()}"
            got = "none" if man.prev is None else f"{man.prev[0]} with sha256 {man.prev[1].hex()}"
            raise ArchiveInvalid(f"{path.name}: names previous archive {got}, but the chain has {want}")
        node, prev = man.node, (path.name, _sha256(data))
        count += len(man.message_ids)
    if prev is None:
        raise ArchiveInvalid(f"{directory}: no archive files (archive-NNNNNNNN.zip)")
    return ChainReport(int(NAME_RE.fullmatch(prev[0]).group(1)), count, prev)  # type: ignore[union-attr]
