"""Node config: signing keys named by pkcs11: URIs, the [pkcs11] table, and no PIN anywhere in the TOML."""

from __future__ import annotations

from pathlib import Path

from gateway.config import load_node_config
from gateway.crypto.pkcs11 import Pkcs11Options
from tests.unit.config.test_settings_errors import _base, _problems, _write

URI = "pkcs11:token=swg-de;object=de-post-main-signing"


def test_uris_are_accepted_for_participant_and_token_keys_with_pkcs11_defaults(tmp_path: Path) -> None:
    data = _base()
    data["participants"][0]["signing_key"] = URI
    data["tokens"]["signing_key"] = "pkcs11:token=swg-de;id=%01"
    (tmp_path / "libhsm.so").touch()
    data["pkcs11"] = {"module": "libhsm.so", "pin_file": "ca.crt", "pin_env": "SWG_HSM_PIN"}
    cfg = load_node_config(_write(tmp_path, data))
    assert cfg.participants[0].signing_key == URI
    assert cfg.tokens.signing_key == "pkcs11:token=swg-de;id=%01"
    assert cfg.pkcs11 == Pkcs11Options(module=str(tmp_path / "libhsm.so"), pin_file=tmp_path / "ca.crt",
                                       pin_env="SWG_HSM_PIN")


def test_file_keys_still_need_no_pkcs11_table(tmp_path: Path) -> None:
    cfg = load_node_config(_write(tmp_path, _base()))
    assert cfg.pkcs11 == Pkcs11Options()
    assert cfg.participants[0].signing_key == tmp_path / "sig.key"


def test_a_pin_in_the_toml_is_refused_naming_its_key_and_never_repeating_it(tmp_path: Path) -> None:
    data = _base()
    data["pkcs11"] = {"pin": "424242"}
    data["participants"][0]["signing_key"] = URI + ";pin-value=434343"
    problems = _problems(tmp_path, data)
    fields = {f: d for f, d in problems}
    assert "a PIN must not be written into the node config" in fields["pkcs11.pin"]
    assert "a PIN must not be written into the URI" in fields["participants[0].signing_key"]
    assert "424242" not in str(problems) and "434343" not in str(problems)
    assert "pkcs11.pin" not in [f for f, d in problems if d == "unknown key"]


def test_bad_uris_and_pkcs11_values_are_named(tmp_path: Path) -> None:
    data = _base()
    data["participants"][0]["signing_key"] = "pkcs11:object=no-token"
    data["pkcs11"] = {"module": "absent.so", "pin_env": "", "slot": 1}
    fields = dict(_problems(tmp_path, data))
    assert "names no token" in fields["participants[0].signing_key"]
    assert fields["pkcs11.module"].startswith("file not found")
    assert fields["pkcs11.pin_env"] == "must be the name of an environment variable"
    assert fields["pkcs11.slot"] == "unknown key"
