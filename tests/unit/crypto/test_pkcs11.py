"""Signing keys in a PKCS#11 token (SoftHSM2, token initialised by the test): URIs, PINs, signing, errors."""

from __future__ import annotations

from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.crypto import pki
from gateway.crypto.jws import verify_signature
from gateway.crypto.keys import Signer
from gateway.crypto.pkcs11 import Pkcs11Error, Pkcs11Options, open_signer, parse_uri
from gateway.crypto.tokens import issue_token
from gateway.testing.hsm import OTHER_TOKEN, SoftHsm, softhsm


@pytest.fixture(scope="module")
def hsm() -> SoftHsm:
    return softhsm()


@pytest.fixture(scope="module")
def ca() -> pki.Authority:
    return pki.create_ca("HSM test CA", days=2)


def _cert(ca: pki.Authority, public: object, tmp: Path, profile: pki.Profile = pki.Profile.SIGNING) -> Path:
    kw = {"participant": "DE/POST/MAIN"} if profile is pki.Profile.SIGNING else {"node": "de-node"}
    cert = pki.issue_certificate(ca, public, profile=profile, days=1, **kw)  # type: ignore[arg-type]
    return pki.write_cert(tmp / "cert.pem", cert)


def test_uri_parts_are_read_and_percent_decoded() -> None:
    uri = parse_uri("pkcs11:token=My%20Token;object=sig;id=%01%02?module-path=/lib/x.so&pin-source=file:/run/pin")
    assert (uri.token, uri.object, uri.id, uri.module_path, uri.pin_file) == (
        "My Token", "sig", b"\x01\x02", "/lib/x.so", Path("/run/pin"))


@pytest.mark.parametrize("uri,reason", [
    ("pkcs11:token=t;object=k;pin-value=1234", "PIN must not be written"),
    ("pkcs11:token=t;object=k?pin-value=1234", "PIN must not be written"),
    ("pkcs11:object=k", "names no token"),
    ("pkcs11:token=t", "names no key"),
    ("pkcs11:token=t;object=k;colour=red", "unknown or malformed attribute"),
    ("pkcs11:token=t;object=k;type=public", "type=private"),
])
def test_bad_uris_are_refused_with_the_reason_and_never_echo_a_pin(uri: str, reason: str) -> None:
    with pytest.raises(Pkcs11Error, match=reason) as err:
        parse_uri(uri)
    assert "1234" not in str(err.value)


@pytest.mark.parametrize("algorithm,alg", [("ecdsa-p256", "ES256"), ("ed25519", "EdDSA")])
def test_a_key_generated_in_the_token_signs_jws_that_verify_with_its_certificate(
        hsm: SoftHsm, ca: pki.Authority, tmp_path: Path, algorithm: str, alg: str) -> None:
    uri, public = hsm.new_key(algorithm)
    signer = Signer.from_files(uri, _cert(ca, public, tmp_path))
    jws = signer.sign(b"a customs declaration", typ="test")
    payload, protected = verify_signature(jws, "test")
    assert payload == b"a customs declaration"
    assert protected.alg == alg
    # The signature is the token's: flipping one bit of the payload breaks it.
    head, body, sig = jws.split(".")
    with pytest.raises(Exception, match="does not verify"):
        verify_signature(f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}", "test")


def test_generated_private_keys_are_sensitive_and_not_extractable(hsm: SoftHsm) -> None:
    uri, _ = hsm.new_key()
    label = parse_uri(uri).object
    lib = pkcs11.lib(hsm.module)
    # This process is logged in to the token already (open_signer's login is per process), so no PIN here.
    with lib.get_token(token_label="swg-test").open() as session:
        [key] = session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                                     pkcs11.Attribute.LABEL: label})
        assert key[pkcs11.Attribute.SENSITIVE] is True
        assert key[pkcs11.Attribute.EXTRACTABLE] is False
        assert key[pkcs11.Attribute.NEVER_EXTRACTABLE] is True


def test_pin_from_an_environment_variable_named_in_the_config(hsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> None:
    uri, public = hsm.new_key()
    bare = uri.split("&pin-source=")[0]
    monkeypatch.setenv("SWG_TEST_HSM_PIN", hsm.pin)
    signer = open_signer(bare, Pkcs11Options(pin_env="SWG_TEST_HSM_PIN"))
    assert signer.alg == "ES256"
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert signer.public_key is not None and signer.public_key.public_numbers() == public.public_numbers()


def test_pin_file_named_in_the_config_when_the_uri_has_none(hsm: SoftHsm) -> None:
    uri, _ = hsm.new_key("ed25519")
    signer = open_signer(uri.split("&pin-source=")[0], Pkcs11Options(pin_file=hsm.pin_file))
    assert signer.alg == "EdDSA"
    assert isinstance(signer.public_key, ed25519.Ed25519PublicKey)


def _refusal(uri: str, options: Pkcs11Options | None = None) -> str:
    with pytest.raises(Pkcs11Error) as err:
        open_signer(uri, options)
    return str(err.value)


def test_wrong_pin_is_a_clear_error_naming_the_uri_not_the_pin(hsm: SoftHsm) -> None:
    uri, _ = hsm.new_key()
    wrong = hsm.key_uri(parse_uri(uri).object or "", pin_file=hsm.wrong_pin_file)
    message = _refusal(wrong)
    assert message.startswith(wrong) and "PIN is wrong" in message
    assert "not-the-pin" not in message and hsm.pin not in message


def test_missing_token_object_module_and_pin_are_each_named(hsm: SoftHsm, tmp_path: Path) -> None:
    assert "no token labelled 'nope'" in _refusal(hsm.key_uri("k", token="nope"))
    assert "no private key with that object/id in token 'swg-other'" in _refusal(hsm.key_uri("k", token=OTHER_TOKEN))
    missing_module = hsm.key_uri("k").replace(hsm.module, str(tmp_path / "libnone.so"))
    assert f"PKCS#11 module {tmp_path / 'libnone.so'} not found" in _refusal(missing_module)
    assert "no PIN source" in _refusal(hsm.key_uri("k").split("&pin-source=")[0])
    assert "PIN file" in _refusal(hsm.key_uri("k", pin_file=tmp_path / "absent"))
    assert "SWG_UNSET_PIN holding the PIN is not set" in _refusal(hsm.key_uri("k").split("&pin-source=")[0],
                                                  Pkcs11Options(pin_env="SWG_UNSET_PIN"))


def test_a_token_key_that_is_not_the_certificates_is_refused(hsm: SoftHsm, ca: pki.Authority, tmp_path: Path) -> None:
    uri, _ = hsm.new_key()
    _, other_public = hsm.new_key()
    with pytest.raises(Exception, match="does not match the certificate") as err:
        Signer.from_files(uri, _cert(ca, other_public, tmp_path))
    assert uri in str(err.value)


def test_a_token_issuer_key_mints_bearer_tokens_the_node_accepts(hsm: SoftHsm, ca: pki.Authority,
                                                                   tmp_path: Path) -> None:
    import jwt

    uri, public = hsm.new_key()
    signer = Signer.from_files(uri, _cert(ca, public, tmp_path, pki.Profile.TOKEN_SIGNING))
    client = pki.new_key()
    client_cert = pki.issue_certificate(ca, client.public_key(), profile=pki.Profile.TLS_CLIENT,
                                        participant="DE/POST/MAIN", days=1)
    from cryptography.hazmat.primitives import serialization

    token = issue_token(signer=signer.key, issuer="swg:de-node", audience="swg:de-node", participant="DE/POST/MAIN",
                        scopes=["submit"], client_cert_pem=client_cert.public_bytes(serialization.Encoding.PEM))
    claims = jwt.decode(token, public, algorithms=["ES256"], audience="swg:de-node")  # type: ignore[arg-type]
    assert claims["sub"] == "DE/POST/MAIN" and claims["scope"] == "submit"


def test_pki_generates_participant_keys_inside_the_token_and_certifies_them(hsm: SoftHsm, tmp_path: Path) -> None:
    paths = pki.generate_federation(tmp_path / "pki", ["de-node"], ["DE/POST/MAIN", "DE/CUSTOMS/MAIN"],
                                    pkcs11=pki.Pkcs11Keys(hsm.token_uri(), participants=frozenset({"DE/POST/MAIN"}),
                                                          label_prefix="gen-"))
    post, customs = paths.participants["DE/POST/MAIN"], paths.participants["DE/CUSTOMS/MAIN"]
    assert not post.signing_key.exists()
    ref = pki.key_reference(post.signing_key)
    assert isinstance(ref, str) and "object=gen-de-post-main-signing" in ref
    assert pki.key_reference(customs.signing_key) == customs.signing_key  # file key, as before
    signer = Signer.from_files(ref, post.signing_cert)
    assert verify_signature(signer.sign(b"x", typ="t"), "t")[1].leaf.subject == \
        pki.load_cert(post.signing_cert).subject
    # A second run into the same token does not silently add a second key under the same label.
    with pytest.raises(Pkcs11Error, match="already holds this key"):
        pki.generate_federation(tmp_path / "pki2", ["de-node"], ["DE/POST/MAIN"],
                                pkcs11=pki.Pkcs11Keys(hsm.token_uri(), label_prefix="gen-"))


def test_a_session_the_token_dropped_is_opened_again_and_signing_goes_on(hsm: SoftHsm, ca: pki.Authority,
                                                                         tmp_path: Path) -> None:
    uri, public = hsm.new_key()
    signer = Signer.from_files(uri, _cert(ca, public, tmp_path))
    token_key = signer.key
    assert not isinstance(token_key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
    token_key._session.close()  # type: ignore[union-attr]  # as an HSM restart would
    assert verify_signature(signer.sign(b"after the drop", typ="t"), "t")[0] == b"after the drop"
