"""The console's users file: argon2 hashes only, private, and sign-in that says nothing about who exists."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.console import Users
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_user_add_from_stdin_writes_an_argon2_hash_never_the_password_and_only_the_owner_may_read_it(
        tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    done = subprocess.run([sys.executable, "-m", "gateway", "console", "user", "add", "olga", "--role", "operator",
                           "--users", str(path)], input="correct horse battery\n", capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    assert "correct horse battery" not in text and "$argon2id$" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = Users.load(path)
    assert users.authenticate("olga", "correct horse battery") == users.users["olga"]
    assert users.users["olga"].role == "operator"
    assert users.authenticate("olga", "correct horse batterY") is None
    assert users.authenticate("nobody", "correct horse battery") is None


def test_user_add_again_changes_password_and_role(tmp_path: Path) -> None:
    users = Users.load(tmp_path / "u.toml", missing_ok=True)
    users.add("anna", "viewer", "first password 1")
    users.add("anna", "auditor", "second password 2")
    again = Users.load(tmp_path / "u.toml")
    assert again.users["anna"].role == "auditor"
    assert again.authenticate("anna", "first password 1") is None
    assert again.authenticate("anna", "second password 2") is not None


@pytest.mark.parametrize(("name", "role", "password"), [
    ("olga", "root", "long enough password"),
    ("olga", "viewer", "short"),
    ('x"]\n[users.evil', "viewer", "long enough password"),
])
def test_bad_users_are_refused(tmp_path: Path, name: str, role: str, password: str) -> None:
    users = Users.load(tmp_path / "u.toml", missing_ok=True)
    with pytest.raises(ConfigError):
        users.add(name, role, password)
    assert not (tmp_path / "u.toml").exists()


def test_a_users_file_with_a_plain_password_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.toml"
    path.write_text('[users.olga]\nrole = "operator"\npassword_hash = "hunter2hunter2"\n')
    with pytest.raises(ConfigError, match="argon2"):
        Users.load(path)
