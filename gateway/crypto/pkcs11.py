"""Signing keys held in a PKCS#11 token (an HSM, a smart card, SoftHSM2), named by RFC 7512 ``pkcs11:`` URIs.

The private key never leaves the token: ``Pkcs11Signer.sign`` hands the token the data (EdDSA) or its
SHA-256 digest (ECDSA, mechanism CKM_ECDSA, which returns the raw r||s that ES256 JWS uses as is).

A URI names the token (``token=``) and the key (``object=`` label and/or ``id=``), optionally the
module (``module-path=``) and where the PIN comes from (``pin-source=file:/path``). A PIN written into the
URI (``pin-value=``) is refused: the node config is not a place for secrets. Otherwise the PIN comes from
a file or an environment variable that the node config names (``[pkcs11] pin_file`` / ``pin_env``).

Every error at load names the URI without its PIN and says what is wrong (wrong PIN, no such token,
no such object, module not loadable), so a node refuses to start with one clear line.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from gateway.errors import InvalidArgument, Unavailable

SCHEME = "pkcs11:"
# Where Debian and Ubuntu install SoftHSM2; used only when neither the URI nor the config names a module.
DEFAULT_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
_PATH_ATTRS = frozenset({"token", "object", "id", "type", "manufacturer", "model", "serial", "library-manufacturer",
                         "library-description", "library-version", "slot-id", "slot-description",
                         "slot-manufacturer"})
_QUERY_ATTRS = frozenset({"module-path", "module-name", "pin-source"})
_ED25519_OID = "1.3.101.112"
# CKA_EC_PARAMS of an Ed25519 key: the OID, or (PKCS#11 3.0, SoftHSM2) the PrintableString "edwards25519".
_ED25519_PARAMS = (encode_named_curve_parameters(_ED25519_OID), b"\x13\x0cedwards25519")
# DER OCTET STRING header of a 32-byte Ed25519 point as CKA_EC_POINT holds it.
_ED25519_POINT_PREFIX = b"\x04\x20"


class Pkcs11Error(InvalidArgument):
    """A PKCS#11 key cannot be used; the message names the URI (never the PIN)."""


def is_uri(value: str) -> bool:
    return value.startswith(SCHEME)


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI the gateway uses. ``text`` is the URI as configured (without any PIN)."""

    text: str
    token: str
    object: str | None
    id: bytes | None
    module_path: str | None
    pin_file: Path | None

    def __str__(self) -> str:
        return self.text


def parse_uri(uri: str) -> Pkcs11Uri:
    """Parse a ``pkcs11:`` URI; refuses a PIN in it, unknown attributes, and a URI naming no token or key."""
    if not is_uri(uri):
        raise Pkcs11Error(f"{uri!r} is not a pkcs11: URI")
    body = uri[len(SCHEME):]
    path, _, query = body.partition("?")
    attrs: dict[str, str] = {}

    def add(part: str, allowed: frozenset[str]) -> None:
        name, eq, value = part.partition("=")
        if name in ("pin-value", "pin"):
            raise Pkcs11Error(f"{_redact(uri)}: a PIN must not be written into the URI or the config; use "
                              "pin-source=file:PATH, [pkcs11] pin_file or [pkcs11] pin_env")
        if not eq or name not in allowed:
            raise Pkcs11Error(f"{_redact(uri)}: unknown or malformed attribute {name!r}")
        if name in attrs:
            raise Pkcs11Error(f"{_redact(uri)}: attribute {name!r} given twice")
        attrs[name] = urllib.parse.unquote_to_bytes(value).decode("utf-8") if name != "id" else value

    for part in filter(None, path.split(";")):
        add(part, _PATH_ATTRS)
    for part in filter(None, query.split("&")):
        add(part, _QUERY_ATTRS)
    if "token" not in attrs:
        raise Pkcs11Error(f"{uri}: names no token (token=LABEL)")
    if "object" not in attrs and "id" not in attrs:
        raise Pkcs11Error(f"{uri}: names no key (object=LABEL or id=%01...)")
    if attrs.get("type", "private") != "private":
        raise Pkcs11Error(f"{uri}: a signing key is type=private")
    key_id = urllib.parse.unquote_to_bytes(attrs["id"]) if "id" in attrs else None
    pin_file: Path | None = None
    if "pin-source" in attrs:
        source = attrs["pin-source"]
        pin_file = Path(source[len("file:"):] if source.startswith("file:") else source)
    return Pkcs11Uri(uri, attrs["token"], attrs.get("object"), key_id, attrs.get("module-path"), pin_file)


def parse_uri_base(uri: str) -> str:
    """Check a URI that names a token but no key yet (``gateway pki init --pkcs11``); returns it as given."""
    if not is_uri(uri):
        raise Pkcs11Error(f"{uri!r} is not a pkcs11: URI")
    path, sep, query = uri.partition("?")
    if any(p.startswith(("object=", "id=")) for p in path[len(SCHEME):].split(";")):
        raise Pkcs11Error(f"{_redact(uri)}: name only the token; each key gets its own object= label")
    parse_uri(f"{path};object=x{sep}{query}")  # the same checks as for a key's URI (token named, no PIN)
    return uri


def _redact(uri: str) -> str:
    """The URI with any pin-value removed, for error messages."""
    path, _, query = uri.partition("?")
    keep = [p for p in path.split(";") if not p.startswith(("pin-value=", "pin="))]
    q = [p for p in query.split("&") if p and not p.startswith(("pin-value=", "pin="))]
    return ";".join(keep) + ("?" + "&".join(q) if q else "")


@dataclass(frozen=True)
class Pkcs11Options:
    """The node config's ``[pkcs11]`` table: the module when the URI names none, and where the PIN comes
    from when the URI has no pin-source: a file or an environment variable."""

    module: str | None = None
    pin_file: Path | None = None
    pin_env: str | None = None


def read_pin(uri: Pkcs11Uri, source: Pkcs11Options, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    path = uri.pin_file or source.pin_file
    if path is not None:
        try:
            pin = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise Pkcs11Error(f"{uri}: cannot read the PIN file {path}: {exc.strerror}") from exc
        if not pin:
            raise Pkcs11Error(f"{uri}: the PIN file {path} is empty")
        return pin
    if source.pin_env:
        pin = env.get(source.pin_env, "")
        if not pin:
            raise Pkcs11Error(f"{uri}: the environment variable {source.pin_env} holding the PIN is not set")
        return pin
    raise Pkcs11Error(f"{uri}: no PIN source; set pin-source=file:PATH in the URI, [pkcs11] pin_file or "
                      "[pkcs11] pin_env")


_libs: dict[str, Any] = {}
_libs_lock = threading.Lock()


def _module(uri: Pkcs11Uri, module: str | None) -> Any:
    path = uri.module_path or module
    if path is None:
        path = next((m for m in DEFAULT_MODULES if Path(m).exists()), None)
        if path is None:
            raise Pkcs11Error(f"{uri}: no PKCS#11 module; set module-path= in the URI or [pkcs11] module")
    with _libs_lock:
        if path not in _libs:
            if not Path(path).is_file():
                raise Pkcs11Error(f"{uri}: PKCS#11 module {path} not found")
            try:
                _libs[path] = pkcs11.lib(path)
            except (RuntimeError, OSError) as exc:
                raise Pkcs11Error(f"{uri}: PKCS#11 module {path} cannot be loaded: {exc}") from exc
        return _libs[path]


@dataclass
class _Login:
    """A token this process is logged in to. PKCS#11 login is per application and token, not per session:
    the first session logs in and stays open (so the login does), later sessions share it, and the PIN each
    later caller brings is compared with the one the token accepted."""

    pin_sha256: bytes
    anchor: Any


_logins: dict[tuple[str, str], _Login] = {}


def _open_session(uri: Pkcs11Uri, options: Pkcs11Options, *, rw: bool = False) -> Any:
    lib = _module(uri, options.module)
    pin = read_pin(uri, options)
    try:
        token = lib.get_token(token_label=uri.token)
    except pkcs11.NoSuchToken as exc:
        raise Pkcs11Error(f"{uri}: no token labelled {uri.token!r} in the PKCS#11 module") from exc
    except pkcs11.MultipleTokensReturned as exc:
        raise Pkcs11Error(f"{uri}: more than one token labelled {uri.token!r}") from exc
    pin_sha256 = hashlib.sha256(pin.encode("utf-8")).digest()
    key = (str(uri.module_path or options.module), uri.token)
    with _libs_lock:
        login = _logins.get(key)
        try:
            if login is None:
                anchor = token.open(user_pin=pin, rw=True)
                _logins[key] = login = _Login(pin_sha256, anchor)
            elif not hmac.compare_digest(login.pin_sha256, pin_sha256):
                raise Pkcs11Error(f"{uri}: the PIN is wrong (token {uri.token!r} is logged in with another)")
            return token.open(rw=rw)
        except pkcs11.PinIncorrect as exc:
            raise Pkcs11Error(f"{uri}: the PIN is wrong (token {uri.token!r} refused the login)") from exc
        except pkcs11.PinLocked as exc:
            raise Pkcs11Error(f"{uri}: the token's user PIN is locked") from exc
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11Error(f"{uri}: cannot log in to token {uri.token!r}: {type(exc).__name__}") from exc


def _find(session: Any, uri: Pkcs11Uri, cls: ObjectClass) -> list[Any]:
    attrs: dict[Attribute, Any] = {Attribute.CLASS: cls}
    if uri.object is not None:
        attrs[Attribute.LABEL] = uri.object
    if uri.id is not None:
        attrs[Attribute.ID] = uri.id
    return list(session.get_objects(attrs))


def _public_key_of(session: Any, uri: Pkcs11Uri, key_type: KeyType) -> ec.EllipticCurvePublicKey | \
        ed25519.Ed25519PublicKey | None:
    found = _find(session, uri, ObjectClass.PUBLIC_KEY)
    if len(found) != 1:
        return None
    pub = found[0]
    if key_type == KeyType.EC:
        loaded = serialization.load_der_public_key(encode_ec_public_key(pub))
        return loaded if isinstance(loaded, ec.EllipticCurvePublicKey) else None
    point = bytes(pub[Attribute.EC_POINT])
    raw = point[2:] if point.startswith(_ED25519_POINT_PREFIX) and len(point) == 34 else point
    return ed25519.Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else None


class Pkcs11Signer:
    """A JWS signer whose private key stays in a PKCS#11 token: ``alg`` and ``sign(data) -> JWS signature``.

    One logged-in session per signer, used under a lock (a PKCS#11 session runs one operation at a time).
    ``public_key`` is the token's public key object when it has one (None otherwise); keys.py checks the key
    against its certificate by a signature either way. A session the token dropped (an HSM restarted, a
    network HSM reconnected) is opened again, with a fresh login, once per signature; if that fails too the
    signature is refused ``Unavailable`` (retryable: the submit or delivery is tried again later).
    """

    def __init__(self, uri: Pkcs11Uri, session: Any, key: Any, alg: str,
                 public_key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | None,
                 options: Pkcs11Options | None = None):
        self.uri = uri
        self.alg = alg
        self.public_key = public_key
        self._session = session
        self._key = key
        self._options = options or Pkcs11Options()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Pkcs11Signer({self.uri.text!r}, {self.alg})"

    def _sign_once(self, data: bytes) -> bytes:
        if self.alg == "ES256":
            return bytes(self._key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
        return bytes(self._key.sign(data, mechanism=Mechanism.EDDSA))

    def sign(self, data: bytes) -> bytes:
        with self._lock:
            try:
                return self._sign_once(data)
            except pkcs11.PKCS11Error as first:
                try:
                    self._reopen()
                    return self._sign_once(data)
                except (pkcs11.PKCS11Error, Pkcs11Error) as exc:
                    raise Unavailable(f"{self.uri}: the token cannot sign ({type(first).__name__}, then "
                                      f"{type(exc).__name__} after logging in again)") from exc

    def _reopen(self) -> None:
        with contextlib.suppress(pkcs11.PKCS11Error):
            self._session.close()
        with _libs_lock:  # the login may be what was lost: log in afresh
            login = _logins.pop((str(self.uri.module_path or self._options.module), self.uri.token), None)
        if login is not None:
            with contextlib.suppress(pkcs11.PKCS11Error):
                login.anchor.close()
        session = _open_session(self.uri, self._options)
        found = _find(session, self.uri, ObjectClass.PRIVATE_KEY)
        if len(found) != 1:
            session.close()
            raise Pkcs11Error(f"{self.uri}: the key is no longer in token {self.uri.token!r}")
        self._session, self._key = session, found[0]

    def close(self) -> None:
        with self._lock:
            self._session.close()


def open_signer(uri_text: str, options: Pkcs11Options | None = None) -> Pkcs11Signer:
    """Log in to the token a URI names and find its private signing key (ECDSA P-256 or Ed25519)."""
    uri = parse_uri(uri_text)
    session = _open_session(uri, options or Pkcs11Options())
    try:
        found = _find(session, uri, ObjectClass.PRIVATE_KEY)
        if not found:
            raise Pkcs11Error(f"{uri}: no private key with that object/id in token {uri.token!r}")
        if len(found) > 1:
            raise Pkcs11Error(f"{uri}: {len(found)} private keys match; name one by object= and id=")
        key = found[0]
        key_type = key.key_type
        if key_type == KeyType.EC:
            params = bytes(key[Attribute.EC_PARAMS])
            if params != encode_named_curve_parameters("secp256r1"):
                raise Pkcs11Error(f"{uri}: the EC key is not on P-256 (ES256 needs P-256)")
            alg = "ES256"
        elif key_type == KeyType.EC_EDWARDS:
            if bytes(key[Attribute.EC_PARAMS]) not in _ED25519_PARAMS:
                raise Pkcs11Error(f"{uri}: the EdDSA key is not Ed25519")
            alg = "EdDSA"
        else:
            raise Pkcs11Error(f"{uri}: unsupported key type {key_type.name}; use ECDSA P-256 or Ed25519")
        return Pkcs11Signer(uri, session, key, alg, _public_key_of(session, uri, key_type), options)
    except BaseException:
        session.close()
        raise


def generate_key(uri_text: str, algorithm: str, options: Pkcs11Options | None = None) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """Generate a signing key pair inside the token (private half sensitive and not extractable).

    ``algorithm`` is ``ecdsa-p256`` or ``ed25519``. Refuses when the URI already names a key, so an
    existing key is never shadowed by a second one with the same label.
    """
    uri = parse_uri(uri_text)
    if uri.object is None:
        raise Pkcs11Error(f"{uri}: name the key to generate with object=LABEL")
    session = _open_session(uri, options or Pkcs11Options(), rw=True)
    try:
        if _find(session, uri, ObjectClass.PRIVATE_KEY):
            raise Pkcs11Error(f"{uri}: the token already holds this key; not generating another")
        if algorithm == "ecdsa-p256":
            key_type, curve, mech = KeyType.EC, encode_named_curve_parameters("secp256r1"), Mechanism.EC_KEY_PAIR_GEN
        elif algorithm == "ed25519":
            key_type, curve = KeyType.EC_EDWARDS, encode_named_curve_parameters(_ED25519_OID)
            mech = Mechanism.EC_EDWARDS_KEY_PAIR_GEN
        else:
            raise Pkcs11Error(f"{uri}: unsupported algorithm {algorithm!r}")
        params = session.create_domain_parameters(key_type, {Attribute.EC_PARAMS: curve}, local=True)
        params.generate_keypair(
            store=True, label=uri.object, id=uri.id or b"", mechanism=mech,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True},
            public_template={Attribute.VERIFY: True})
        pub = _public_key_of(session, uri, key_type)
        if pub is None:
            raise Pkcs11Error(f"{uri}: the generated public key cannot be read back")
        return pub
    except pkcs11.PKCS11Error as exc:
        raise Pkcs11Error(f"{uri}: key generation failed: {type(exc).__name__}") from exc
    finally:
        session.close()
