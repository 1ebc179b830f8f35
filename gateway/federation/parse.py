"""The directory TOML parser: every problem is named by its key (``participants[1].node: no node 'x'``).

Certificates the directory names are hashed at load; the SHA-256 is checked against the directory's own
pin when it has one, and keys without a pin are listed so a signed directory can be refused for them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

from adapters import validation
from gateway.config.reader import ADDRESS, NODE_NAME, PARTICIPANT_ID, Reader
from gateway.crypto.certificates import pem_file_sha256_hex
from gateway.crypto.composite import public_key_file_sha256_hex
from gateway.envelope.profiles import CLASSIC, PROFILES, CryptoPolicy
from gateway.errors import ConfigError, FieldViolation
from gateway.federation.model import (
    Agreement,
    Directory,
    DirectoryNode,
    DirectoryParticipant,
    DutyRule,
    RevenueRules,
    Route,
)


def parse_directory(data: dict[str, Any], path: Path) -> Directory:
    problems: list[FieldViolation] = []
    r = Reader(path.parent, problems)
    r.unknown(data, {"federation", "crypto", "nodes", "participants", "routes", "agreements", "revenue", "rules"}, "")
    fed = r.table(data, "federation")
    r.unknown(fed, {"name", "version"}, "federation.")
    name = r.str_(fed, "name", "federation.")
    version = r.num(fed, "version", "federation.", 0, minimum=1)

    unpinned: list[str] = []
    nodes: dict[str, DirectoryNode] = {}
    for i, n in enumerate(data.get("nodes", []) or []):
        prefix = f"nodes[{i}]."
        r.unknown(n, {"name", "address", "tls_certificate", "tls_certificate_sha256"}, prefix)
        nname = r.str_(n, "name", prefix, pattern=NODE_NAME, what="a node name")
        if nname in nodes:
            r.problem(prefix + "name", f"node {nname} is listed twice")
        nodes[nname] = DirectoryNode(
            name=nname,
            address=r.str_(n, "address", prefix, pattern=ADDRESS, what="host:port"),
            tls_certificate=(cert := r.path(n, "tls_certificate", prefix) or Path()),
            tls_certificate_sha256=_pin(r, n, "tls_certificate", prefix, cert, unpinned),
        )
    if not nodes:
        r.problem("nodes", "at least one [[nodes]] entry is required")

    participants: dict[str, DirectoryParticipant] = {}
    for i, p in enumerate(data.get("participants", []) or []):
        prefix = f"participants[{i}]."
        r.unknown(p, {"id", "node", "name", "encryption_certificate", "encryption_certificate_sha256", "formats",
                      "pq_encryption_key", "pq_encryption_key_sha256", "pq_signing_key", "pq_signing_key_sha256"},
                  prefix)
        pid = r.str_(p, "id", prefix, pattern=PARTICIPANT_ID, what="a participant id CC/ROLE/CODE")
        if pid in participants:
            r.problem(prefix + "id", f"participant {pid} is listed twice")
        node = r.str_(p, "node", prefix)
        if node and nodes and node not in nodes:
            r.problem(prefix + "node", f"no node {node!r} in [[nodes]]")
        formats = p.get("formats", {})
        if not isinstance(formats, dict) or not all(isinstance(v, str) for v in formats.values()):
            r.problem(prefix + "formats", "must be a table of document type = format")
            formats = {}
        participants[pid] = DirectoryParticipant(
            id=pid, node=node, name=str(p.get("name", pid)),
            encryption_certificate=(cert := r.path(p, "encryption_certificate", prefix) or Path()),
            formats=dict(formats),
            encryption_certificate_sha256=_pin(r, p, "encryption_certificate", prefix, cert, unpinned),
            pq_encryption_key=(pqe := r.path(p, "pq_encryption_key", prefix, required=False)),
            pq_encryption_key_sha256=_pin(r, p, "pq_encryption_key", prefix, pqe, unpinned) if pqe else "",
            pq_signing_key=(pqs := r.path(p, "pq_signing_key", prefix, required=False)),
            pq_signing_key_sha256=_pin(r, p, "pq_signing_key", prefix, pqs, unpinned) if pqs else "",
        )

    routes: list[Route] = []
    for i, rt in enumerate(data.get("routes", []) or []):
        prefix = f"routes[{i}]."
        r.unknown(rt, {"document_type", "from", "to", "when", "default"}, prefix)
        doc = r.str_(rt, "document_type", prefix)
        senders = rt.get("from")
        recipients = rt.get("to")
        for key, value in (("from", senders), ("to", recipients)):
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                r.problem(prefix + key, "must be a non-empty list of participant patterns")
        when = rt.get("when", {})
        if not isinstance(when, dict):
            r.problem(prefix + "when", "must be a table of attribute = value")
            when = {}
        default = rt.get("default", True)
        if not isinstance(default, bool):
            r.problem(prefix + "default", "must be true or false")
        routes.append(Route(
            document_type=doc,
            senders=tuple(senders or ()) if isinstance(senders, list) else (),
            recipients=tuple(recipients or ()) if isinstance(recipients, list) else (),
            when={str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in when.items()},
            default=bool(default),
        ))

    agreements = _agreements(r, data)
    revenue = _revenue(r, data, participants)
    crypto = _crypto(r, data, participants)
    rules = _rules(r, data)
    if problems:
        raise ConfigError(problems)
    return Directory(path=path, name=name, version=version, nodes=nodes, participants=participants,
                     routes=tuple(routes), raw=data, agreements=agreements, revenue=revenue,
                     rules=rules, unpinned=tuple(unpinned), crypto=crypto)


def _instant(r: Reader, table: dict[str, Any], key: str) -> dt.datetime | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        r.problem("crypto." + key, "must be an offset date-time, e.g. 2027-01-01T00:00:00Z")
        return None
    return value


def _crypto(r: Reader, data: dict[str, Any], participants: dict[str, DirectoryParticipant]) -> CryptoPolicy:
    """``[crypto] profile = "classic" | "hybrid-pq"``, optionally with ``transition_from``/``transition_until``."""
    table = r.table(data, "crypto", required=False)
    r.unknown(table, {"profile", "transition_from", "transition_until"}, "crypto.")
    profile = r.str_(table, "profile", "crypto.", default=CLASSIC)
    if profile and profile not in PROFILES:
        r.problem("crypto.profile", f"must be one of {', '.join(PROFILES)}")
        profile = CLASSIC
    start, until = _instant(r, table, "transition_from"), _instant(r, table, "transition_until")
    if (start or until) and profile == CLASSIC:
        r.problem("crypto.transition_until", "a transition window needs profile = \"hybrid-pq\"")
    if start and until and until <= start:
        r.problem("crypto.transition_until", "must be after transition_from")
    if profile != CLASSIC and until is None:
        # Hybrid only at once: everyone must be able to receive and sign hybrid-pq.
        for pid, entry in participants.items():
            if not entry.announces_pq:
                r.problem("crypto.profile", f"hybrid-pq without a transition window, but {pid} has no "
                          "pq_encryption_key and pq_signing_key")
    return CryptoPolicy(profile or CLASSIC, start, until)


def _pin(r: Reader, data: dict[str, Any], key: str, prefix: str, cert: Path, unpinned: list[str]) -> str:
    """The certificate's (or PQ public key's) SHA-256 (hex); a mismatch with the directory's pin is a problem."""
    pin = data.get(key + "_sha256")
    if pin is None:
        unpinned.append(prefix + key + "_sha256")
    elif not isinstance(pin, str) or not re.fullmatch(r"[0-9a-f]{64}", pin):
        r.problem(prefix + key + "_sha256", "must be the certificate's SHA-256 as 64 lowercase hex digits")
    if not cert.is_file():
        return ""
    try:
        actual = public_key_file_sha256_hex(cert) if key.startswith("pq_") else pem_file_sha256_hex(cert)
    except ValueError as exc:
        r.problem(prefix + key, f"not a PEM {'public key' if key.startswith('pq_') else 'certificate'}: {exc}")
        return ""
    if isinstance(pin, str) and pin != actual:
        r.problem(prefix + key + "_sha256", f"{cert} is not the pinned certificate (its SHA-256 is {actual})")
    return actual


def _str_list(r: Reader, data: dict[str, Any], key: str, prefix: str, required: bool) -> tuple[str, ...]:
    value = data.get(key, None if required else [])
    if not isinstance(value, list) or (required and not value) or not all(isinstance(v, str) and v for v in value):
        r.problem(prefix + key, "must be a " + ("non-empty " if required else "") + "list of strings")
        return ()
    return tuple(value)


def _agreements(r: Reader, data: dict[str, Any]) -> dict[str, Agreement]:
    out: dict[str, Agreement] = {}
    for i, a in enumerate(data.get("agreements", []) or []):
        prefix = f"agreements[{i}]."
        r.unknown(a, {"reference", "legal_basis", "parties", "requesting", "requested", "information_categories",
                      "assistance_types"}, prefix)
        ref = r.str_(a, "reference", prefix)
        if ref in out:
            r.problem(prefix + "reference", f"agreement {ref} is listed twice")
        parties = _str_list(r, a, "parties", prefix, True)
        requesting = _str_list(r, a, "requesting", prefix, True)
        requested = _str_list(r, a, "requested", prefix, True)
        for key, names in (("requesting", requesting), ("requested", requested)):
            for n in names:
                if n not in parties:
                    r.problem(prefix + key, f"{n} is not one of the agreement's parties")
        out[ref] = Agreement(ref, r.str_(a, "legal_basis", prefix), parties, requesting, requested,
                             _str_list(r, a, "information_categories", prefix, False),
                             _str_list(r, a, "assistance_types", prefix, False))
    return out


COLLECTION_MODELS = ("vendor", "intermediary", "buyer", "hybrid")
DECIMAL = re.compile(r"\d+(\.\d+)?", re.ASCII)


def _rules(r: Reader, data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``[rules.CC]``: the class (error or warning) of validation rules for items bound for country CC."""
    table = data.get("rules", {}) or {}
    if not isinstance(table, dict):
        r.problem("rules", "must be a table of [rules.CC] tables")
        return {}
    out: dict[str, dict[str, str]] = {}
    for cc, v in table.items():
        if not re.fullmatch(r"[A-Z]{2}", cc) or not isinstance(v, dict):
            r.problem(f"rules.{cc}", "must be a [rules.CC] table with a two-letter country code")
            continue
        out[cc] = {}
        for rule_id, cls in v.items():
            if rule_id not in validation.RULES:
                r.problem(f"rules.{cc}.{rule_id}", "not a rule whose class can be set; one of "
                          + ", ".join(sorted(validation.RULES)))
            elif cls not in validation.RULE_CLASSES:
                r.problem(f"rules.{cc}.{rule_id}", f"must be one of {', '.join(validation.RULE_CLASSES)}")
            else:
                out[cc][rule_id] = cls
    return out


def _revenue(r: Reader, data: dict[str, Any], participants: dict[str, DirectoryParticipant]) -> dict[str, RevenueRules]:
    table = data.get("revenue", {}) or {}
    if not isinstance(table, dict):
        r.problem("revenue", "must be a table of [revenue.CC] tables")
        return {}
    out: dict[str, RevenueRules] = {}
    for cc, v in table.items():
        prefix = f"revenue.{cc}."
        if not re.fullmatch(r"[A-Z]{2}", cc) or not isinstance(v, dict):
            r.problem(f"revenue.{cc}", "must be a [revenue.CC] table with a two-letter country code")
            continue
        r.unknown(v, {"currency", "duty_de_minimis", "vat_de_minimis", "collection_model", "tax_authority", "duty"},
                  prefix)
        thresholds = _amounts(r, v, ("duty_de_minimis", "vat_de_minimis"), prefix, "150.00")
        model = r.str_(v, "collection_model", prefix, default="buyer")
        if model and model not in COLLECTION_MODELS:
            r.problem(prefix + "collection_model", f"must be one of {', '.join(COLLECTION_MODELS)}")
        tax = r.str_(v, "tax_authority", prefix)
        if tax and participants and tax not in participants:
            r.problem(prefix + "tax_authority", f"{tax} is not a participant in the directory")
        out[cc] = RevenueRules(cc, r.str_(v, "currency", prefix), thresholds["duty_de_minimis"],
                               thresholds["vat_de_minimis"], model, tax, _duty_rules(r, v.get("duty"), prefix))
    return out


DUTY_KINDS = ("de_minimis", "flat_per_subheading")


def _amounts(r: Reader, table: dict[str, Any], keys: tuple[str, ...], prefix: str, example: str
             ) -> dict[str, str | None]:
    """Optional decimal amounts kept as text (money is never a float); a malformed one is a problem and None."""
    out: dict[str, str | None] = {}
    for key in keys:
        val = table.get(key)
        if val is not None and (not isinstance(val, str) or not DECIMAL.fullmatch(val)):
            r.problem(prefix + key, f"must be a decimal amount as text, e.g. \"{example}\"")
            val = None
        out[key] = val
    return out


def _duty_rules(r: Reader, table: Any, prefix: str) -> tuple[DutyRule, ...]:
    if table is None:
        return ()
    if not isinstance(table, list) or not all(isinstance(x, dict) for x in table):
        r.problem(prefix + "duty", "must be an array of [[revenue.CC.duty]] tables")
        return ()
    rules: list[DutyRule] = []
    for i, d in enumerate(table):
        p = f"{prefix}duty[{i}]."
        r.unknown(d, {"effective_from", "kind", "threshold", "amount"}, p)
        raw = d.get("effective_from")
        start: dt.date | None = None
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            start = raw
        elif isinstance(raw, str):
            try:
                start = dt.date.fromisoformat(raw)
            except ValueError:
                start = None
        if start is None:
            r.problem(p + "effective_from", "required; a date such as \"2026-07-01\"")
            continue
        kind = d.get("kind")
        if kind not in DUTY_KINDS:
            r.problem(p + "kind", f"must be one of {', '.join(DUTY_KINDS)}")
            continue
        amounts = _amounts(r, d, ("threshold", "amount"), p, "3.00")
        if kind == "de_minimis" and amounts["threshold"] is None:
            r.problem(p + "threshold", "required for kind de_minimis")
            continue
        if kind == "flat_per_subheading" and amounts["amount"] is None:
            r.problem(p + "amount", "required for kind flat_per_subheading")
            continue
        if any(x.effective_from == start for x in rules):
            r.problem(p + "effective_from", f"another duty rule already takes effect on {start.isoformat()}")
            continue
        rules.append(DutyRule(start, kind, amounts["threshold"], amounts["amount"]))
    return tuple(sorted(rules, key=lambda x: x.effective_from or dt.date.min))


def load_directory(path: str | Path) -> Directory:
    path = Path(path).resolve()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([FieldViolation(str(path), f"unreadable: {exc}")]) from None
    return parse_directory_bytes(data, path)


def parse_directory_bytes(data: bytes, path: Path) -> Directory:
    """Parse exactly these bytes (the ones whose signature is checked), not whatever the file holds now."""
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([FieldViolation(str(path), f"not valid TOML: {exc}")]) from None
    return dataclasses.replace(parse_directory(table, path), data=data, sha256=hashlib.sha256(data).hexdigest())
