"""Reading typed values out of TOML tables, every problem recorded under its full dotted key path.

Shared by the node settings (gateway.config.settings) and the federation directory parser
(gateway.federation.parse), so both report ``participants[1].signing_key: file not found`` alike.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from gateway import ids
from gateway.errors import ConfigError, FieldViolation

# Anchored with ^$ and used with re.match, as they always were; gateway.ids holds the full-match rules.
# The name rules are gateway.ids's, matched whole (a trailing newline is not part of a name).
PARTICIPANT_ID, NODE_NAME, ADDRESS = ids.PARTICIPANT_ID, ids.NODE_NAME, ids.ADDRESS


class Reader:
    """Reads typed values out of a TOML table, recording problems under their full key path."""

    def __init__(self, base: Path, problems: list[FieldViolation]):
        self.base = base
        self.problems = problems

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(FieldViolation(key, reason))

    def table(self, data: dict[str, Any], key: str, prefix: str = "", required: bool = True) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(prefix + key, "missing table")
            return {}
        if not isinstance(value, dict):
            self.problem(prefix + key, "must be a table")
            return {}
        return value

    def str_(self, data: dict[str, Any], key: str, prefix: str, default: str | None = None,
             pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = data.get(key, default)
        if value is None:
            self.problem(prefix + key, "missing")
            return ""
        if not isinstance(value, str) or not value:
            self.problem(prefix + key, "must be a non-empty string")
            return ""
        if pattern is not None and not pattern.fullmatch(value):
            self.problem(prefix + key, f"{value!r} is not {what or 'valid'}")
        return value

    def num(self, data: dict[str, Any], key: str, prefix: str, default: float | int,
            minimum: float = 0, integer: bool = True) -> Any:
        value = data.get(key, default)
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            self.problem(prefix + key, "must be an integer" if integer else "must be a number")
            return default
        if value < minimum:
            self.problem(prefix + key, f"must be >= {minimum}")
            return default
        return value

    def path(self, data: dict[str, Any], key: str, prefix: str, required: bool = True,
             must_exist: bool = True) -> Path | None:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(prefix + key, "missing")
            return None
        if not isinstance(value, str) or not value:
            self.problem(prefix + key, "must be a path string")
            return None
        p = (self.base / value).resolve()
        if must_exist and not p.is_file():
            self.problem(prefix + key, f"file not found: {p}")
        return p

    def unknown(self, data: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(prefix + key, "unknown key")


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError([FieldViolation(str(path), "file not found")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([FieldViolation(str(path), f"not valid TOML: {exc}")]) from None
