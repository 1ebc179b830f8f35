"""Node config parsing: every problem is named by its dotted key, and all of them are reported at once.

``gateway config check`` prints ``ConfigError`` as one ``key: reason`` line per problem; an operator must be
able to find the line of the file to fix from the key alone. Paths only need to exist for the node config
(their contents are checked when the node loads its keys), so the files here are empty placeholders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_node_config
from gateway.errors import ConfigError

FILES = ("ca.crt", "tls.crt", "tls.key", "token.crt", "sig.key", "sig.crt", "enc.key", "enc.crt", "federation.toml")


def _base() -> dict[str, Any]:
    return {
        "node": {"name": "de-node", "listen": "127.0.0.1:50051", "directory": "federation.toml"},
        "tls": {"ca": "ca.crt", "cert": "tls.crt", "key": "tls.key"},
        "database": {"url": "sqlite:///node.db"},
        "tokens": {"issuer": "swg:de-node", "audience": "swg:de-node", "signing_certificate": "token.crt"},
        "limits": {"max_message_bytes": 4194304},
        "participants": [_participant("DE/POST/MAIN")],
    }


def _participant(pid: str) -> dict[str, Any]:
    return {"id": pid, "signing_key": "sig.key", "signing_cert": "sig.crt", "encryption_key": "enc.key",
            "encryption_cert": "enc.crt"}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def _toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(value, (dict, list)) or (isinstance(value, list) and not all(isinstance(x, dict)
                                                                                        for x in value)):
            lines.insert(0, f"{key} = {_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            for table in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    for name in FILES:
        (tmp_path / name).touch()
    path = tmp_path / "node.toml"
    path.write_text(_toml(data))
    return path


def _problems(tmp_path: Path, data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_node_config(_write(tmp_path, data))
    # What `gateway config check` prints names each key in front of its reason.
    for p in info.value.problems:
        assert f"{p.field}: {p.description}" in str(info.value)
    return [(p.field, p.description) for p in info.value.problems]


def _with(section: str, **changes: Any) -> dict[str, Any]:
    data = _base()
    for key, value in changes.items():
        if value is None:
            del data[section][key]
        else:
            data[section][key] = value
    return data


def test_the_base_config_is_valid_and_relative_paths_resolve_against_its_directory(tmp_path: Path) -> None:
    cfg = load_node_config(_write(tmp_path, _base()))
    assert cfg.name == "de-node"
    assert cfg.tls.ca == (tmp_path / "ca.crt").resolve()
    assert cfg.database_url == "sqlite:///" + str((tmp_path / "node.db").resolve())
    assert cfg.directory_signature == (tmp_path / "federation.toml.jws").resolve()
    assert cfg.peering.hang_timeout_s == 15.0


@pytest.mark.parametrize(("section", "changes", "expected"), [
    # wrong type
    ("node", {"name": 7}, ("node.name", "must be a non-empty string")),
    ("node", {"allow_unsigned_directory": "yes"}, ("node.allow_unsigned_directory", "must be true or false")),
    ("node", {"processes": "2"}, ("node.processes", "must be an integer")),
    ("database", {"auto_migrate": 1}, ("database.auto_migrate", "must be true or false")),
    ("tokens", {"max_lifetime_s": 1.5}, ("tokens.max_lifetime_s", "must be an integer")),
    ("limits", {"visibility_timeout_s": "30s"}, ("limits.visibility_timeout_s", "must be a number")),
    ("tls", {"crl": 5}, ("tls.crl", "must be a path string")),
    ("tls", {"crl_refresh_s": "60"}, ("tls.crl_refresh_s", "must be a number")),
    ("tls", {"crl_refresh_s": 0.0}, ("tls.crl_refresh_s", "must be >= 0.05")),
    ("tls", {"crl_refresh_s": 86400}, ("tls.crl_refresh_s", "must be <= 3600")),
    ("tls", {"crl_refresh_s": float("nan")}, ("tls.crl_refresh_s", "must be <= 3600")),
    # missing required key
    ("node", {"listen": None}, ("node.listen", "missing")),
    ("tls", {"ca": None}, ("tls.ca", "missing")),
    ("database", {"url": None}, ("database.url", "missing")),
    ("tokens", {"signing_certificate": None}, ("tokens.signing_certificate", "missing")),
    # unknown key
    ("node", {"nmae": "x"}, ("node.nmae", "unknown key")),
    ("tokens", {"scope": "submit"}, ("tokens.scope", "unknown key")),
    ("limits", {"burst_size": 3}, ("limits.burst_size", "unknown key")),
    # bad address
    ("node", {"listen": "localhost"}, ("node.listen", "'localhost' is not host:port")),
    ("node", {"metrics_listen": "0.0.0.0:port"}, ("node.metrics_listen", "'0.0.0.0:port' is not host:port")),
    # out of range or not one of the choices
    ("node", {"processes": 17}, ("node.processes", "must be <= 16")),
    ("node", {"name": "DE_NODE"}, ("node.name", "'DE_NODE' is not a node name (lowercase letters, digits, -)")),
    ("limits", {"max_message_bytes": 10}, ("limits.max_message_bytes", "must be >= 1024")),
    ("limits", {"default_ttl_s": 100, "max_ttl_s": 10}, ("limits.default_ttl_s", "must not exceed limits.max_ttl_s")),
    ("database", {"url": "mysql://db"}, ("database.url", "must be a sqlite:/// or postgresql+psycopg:// URL")),
])
def test_each_problem_names_its_dotted_key(tmp_path: Path, section: str, changes: dict[str, Any],
                                           expected: tuple[str, str]) -> None:
    assert _problems(tmp_path, _with(section, **changes)) == [expected]


def test_a_path_that_does_not_exist_names_its_key_and_the_resolved_file(tmp_path: Path) -> None:
    [(key, reason)] = _problems(tmp_path, _with("tls", cert="nowhere/tls.crt"))
    assert key == "tls.cert"
    assert reason == f"file not found: {(tmp_path / 'nowhere/tls.crt').resolve()}"


@pytest.mark.parametrize(("section", "table", "expected"), [
    ("delivery", {"retry_multiplier": 0.5}, ("delivery.retry_multiplier", "must be >= 1.0")),
    ("delivery", {"max_attempts": -1}, ("delivery.max_attempts", "must be >= 0")),
    ("audit", {"checkpoint_every": 0}, ("audit.checkpoint_every", "must be >= 1")),
    ("audit", {"every": 10}, ("audit.every", "unknown key")),
    ("envelope", {"kek_max_age_s": 90000}, ("envelope.kek_max_age_s", "must be <= 86400")),
    ("logging", {"level": "loud"}, ("logging.level", "must be debug, info, warning or error")),
    ("logging", {"colour": "red"}, ("logging.colour", "unknown key")),
    ("logging", {"format": "xml"}, ("logging.format", "must be \"console\" (for a terminal) or \"json\" (for services)")),
    ("peering", {"hang_timeout_s": 0.1}, ("peering.hang_timeout_s", "must be >= 0.5")),
    ("peering", {"hang_timeout_s": 601}, ("peering.hang_timeout_s", "must be a number of seconds <= 600")),
    ("peering", {"hang_timeout_s": float("nan")}, ("peering.hang_timeout_s", "must be a number of seconds <= 600")),
    ("peering", {"hang_timeout_s": "15"}, ("peering.hang_timeout_s", "must be a number")),
    ("peering", {"hang_timeout": 5}, ("peering.hang_timeout", "unknown key")),
])
def test_optional_sections_name_their_keys(tmp_path: Path, section: str, table: dict[str, Any],
                                           expected: tuple[str, str]) -> None:
    data = _base()
    data[section] = table
    assert _problems(tmp_path, data) == [expected]


def test_tables_and_unknown_tables_are_named(tmp_path: Path) -> None:
    data = _base()
    del data["tokens"]
    data["tracing"] = {"endpoint": "x"}
    # A missing table is named, and so is each required key it would have held.
    assert _problems(tmp_path, data) == [
        ("tracing", "unknown key"), ("tokens", "missing table"), ("tokens.issuer", "missing"),
        ("tokens.audience", "missing"), ("tokens.signing_certificate", "missing")]
    data = _base()
    data["tls"] = "tls.toml"
    assert _problems(tmp_path, data) == [
        ("tls", "must be a table"), ("tls.ca", "missing"), ("tls.cert", "missing"), ("tls.key", "missing")]


def test_participant_problems_are_named_by_their_index(tmp_path: Path) -> None:
    data = _base()
    second = _participant("DE/POST/MAIN")
    del second["signing_key"]
    second["encryption_cert"] = "missing.crt"
    data["participants"].append(second)
    data["participants"].append(_participant("de/post"))
    assert _problems(tmp_path, data) == [
        ("participants[1].id", "DE/POST/MAIN is listed twice"),
        ("participants[1].signing_key", "missing"),
        ("participants[1].encryption_cert", f"file not found: {(tmp_path / 'missing.crt').resolve()}"),
        ("participants[2].id", "'de/post' is not a participant id CC/ROLE/CODE"),
    ]
    data = _base()
    data["participants"] = []
    assert _problems(tmp_path, data) == [("participants", "at least one [[participants]] entry is required")]


def test_every_problem_is_reported_at_once_in_the_order_of_the_sections(tmp_path: Path) -> None:
    data = _base()
    data["node"]["listen"] = "nowhere"
    data["database"]["auto_migrate"] = "sometimes"
    data["tokens"]["leeway_s"] = -5
    data["logging"] = {"level": "trace"}
    assert [key for key, _ in _problems(tmp_path, data)] == [
        "node.listen", "database.auto_migrate", "tokens.leeway_s", "logging.level"]


def test_a_file_that_is_not_toml_is_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("[node\nname = 1\n")
    with pytest.raises(ConfigError) as info:
        load_node_config(path)
    [problem] = info.value.problems
    assert problem.field == str(path.resolve())
    assert problem.description.startswith("not valid TOML")
