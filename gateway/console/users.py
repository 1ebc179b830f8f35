"""The console's users file: TOML, one ``[users.NAME]`` table per person with ``role`` and an argon2id
``password_hash`` (argon2-cffi). The file holds no passwords; it is written with mode 0600."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.errors import ConfigError, FieldViolation

# viewer: read everything; operator: also retry dead letters; auditor: also export evidence, verify the audit log.
ROLES = ("viewer", "operator", "auditor")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 12

_hasher = PasswordHasher()
# Verifying an unknown user's password against this keeps the answer time the same as for a known one.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    def may(self, action: str) -> bool:
        return {"retry": self.role == "operator", "export": self.role == "auditor",
                "verify": self.role in ("auditor", "operator")}.get(action, False)


class Users:
    def __init__(self, path: Path, users: dict[str, User]):
        self.path = path
        self.users = users

    @classmethod
    def load(cls, path: str | Path, missing_ok: bool = False) -> Users:
        path = Path(path)
        if not path.exists():
            if missing_ok:
                return cls(path, {})
            raise ConfigError([FieldViolation(str(path), "users file not found: add one with "
                                                         "`gateway console user add NAME --role ROLE --users FILE`")])
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([FieldViolation(str(path), f"not valid TOML: {exc}")]) from None
        users: dict[str, User] = {}
        problems = []
        for name, t in (data.get("users") or {}).items():
            role, h = t.get("role"), t.get("password_hash")
            if role not in ROLES:
                problems.append(FieldViolation(f"users.{name}.role", f"one of {', '.join(ROLES)}"))
            elif not isinstance(h, str) or not h.startswith("$argon2"):
                problems.append(FieldViolation(f"users.{name}.password_hash", "an argon2 hash"))
            else:
                users[name] = User(name, role, h)
        if problems:
            raise ConfigError(problems)
        return cls(path, users)

    def add(self, name: str, role: str, password: str) -> User:
        if not NAME_RE.match(name):
            raise ConfigError([FieldViolation("name", "letters, digits, '.', '_', '-' (at most 64)")])
        if role not in ROLES:
            raise ConfigError([FieldViolation("role", f"one of {', '.join(ROLES)}")])
        if len(password) < MIN_PASSWORD:
            raise ConfigError([FieldViolation("password", f"at least {MIN_PASSWORD} characters")])
        user = User(name, role, _hasher.hash(password))
        self.users[name] = user
        self.save()
        return user

    def save(self) -> None:
        lines = ["# Operator console users (gateway console user add). Hashes are argon2id; no passwords here.", ""]
        for u in sorted(self.users.values(), key=lambda u: u.name):
            lines += [f'[users."{u.name}"]', f'role = "{u.role}"', f'password_hash = "{u.password_hash}"', ""]
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines))
        os.replace(tmp, self.path)

    def authenticate(self, name: str, password: str) -> User | None:
        user = self.users.get(name)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return user
