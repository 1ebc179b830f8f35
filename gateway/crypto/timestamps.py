"""RFC 3161 time-stamps: building a TimeStampReq and verifying the TimeStampResp a TSA answers.

The ASN.1 is asn1crypto's (``tsp``, ``cms``, ``x509``); signatures and certificates are checked with
cryptography. A response is accepted only if every rule a third party would check with
``openssl ts -verify`` holds, and a few more that openssl leaves to the caller: the nonce we sent, the
policy we asked for, the signer certificate pinned by the ESS signing-certificate attribute, and the
TSA certificate's critical, sole ``timeStamping`` extended key usage (RFC 3161 section 2.3).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

# The digest of the stamped bytes, in the request and expected back in the token.
IMPRINT_ALGORITHM = "sha256"
# A TSA certificate chain longer than this is not a TSA we want to trust.
MAX_CHAIN = 4
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


# The certificates a TSA certificate must chain to ([audit] tsa_ca).
TrustAnchors = tuple[x509.Certificate, ...]


class TimestampInvalid(Exception):
    """The TSA's answer is not a valid stamp of what we asked for; the message says which rule failed."""


@dataclass(frozen=True)
class TimestampRequest:
    der: bytes
    digest: bytes
    nonce: int
    policy: str | None


@dataclass(frozen=True)
class Stamp:
    # The TimeStampToken (CMS ContentInfo, DER): what ``openssl ts -verify -token_in`` reads.
    token: bytes
    gen_time_us: int
    serial: int
    policy: str
    tsa: str


def request(data: bytes, *, policy: str | None = None, nonce: int | None = None) -> TimestampRequest:
    """A TimeStampReq over SHA-256(``data``) with a fresh 64-bit nonce and certReq (the TSA's
    certificate comes back in the token, so that a stamp verifies on its own with the CA)."""
    digest = hashlib.sha256(data).digest()
    nonce = secrets.randbits(63) | 1 << 62 if nonce is None else nonce
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": IMPRINT_ALGORITHM}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }
    if policy:
        fields["req_policy"] = policy
    return TimestampRequest(tsp.TimeStampReq(fields).dump(), digest, nonce, policy or None)


def load_ca_file(path: Path) -> TrustAnchors:
    """The certificates a TSA certificate must chain to (PEM, one or more); ValueError says why not."""
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"not a PEM certificate file: {exc}") from exc
    return tuple(certs)


def _utc_us(t: dt.datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _attr(attrs: cms.CMSAttributes, name: str) -> core.Asn1Value:
    found = [a for a in attrs if a["type"].native == name]
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise TimestampInvalid(f"signed attribute {name} missing or repeated")
    return found[0]["values"][0]


def _signer_cert(sd: cms.SignedData, sid: cms.SignerIdentifier) -> asn1_x509.Certificate:
    for c in sd["certificates"] if sd["certificates"].native is not None else ():
        if c.name != "certificate":
            continue
        cert = c.chosen
        if sid.name == "issuer_and_serial_number":
            if (cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise TimestampInvalid("the token does not carry the TSA certificate (certReq was sent)")


def _check_signing_certificate(attrs: cms.CMSAttributes, cert_der: bytes) -> None:
    # ESS signing-certificate(-v2) pins the signer certificate, so that a token cannot be re-signed with
    # another certificate of the same key.
    names = {a["type"].native for a in attrs}
    if "signing_certificate_v2" in names:
        ids = _attr(attrs, "signing_certificate_v2")["certs"]
        first = ids[0]
        algo = first["hash_algorithm"]["algorithm"].native
        if algo not in _HASHES:
            raise TimestampInvalid(f"signing-certificate-v2 uses {algo}")
        expected = hashlib.new(algo, cert_der).digest()
    elif "signing_certificate" in names:
        first = _attr(attrs, "signing_certificate")["certs"][0]
        expected = hashlib.sha1(cert_der, usedforsecurity=False).digest()
    else:
        raise TimestampInvalid("no ESS signing-certificate attribute (RFC 3161 section 2.4.2)")
    if first["cert_hash"].native != expected:
        raise TimestampInvalid("the ESS signing-certificate attribute names another certificate than the signer's")


def _verify_signature(cert: x509.Certificate, info: cms.SignerInfo, signed: bytes) -> None:
    digest_name = info["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise TimestampInvalid(f"signature digest {digest_name} is not accepted")
    h = _HASHES[digest_name]()
    sig_algo: algos.SignedDigestAlgorithm = info["signature_algorithm"]
    kind = sig_algo.signature_algo
    signature = info["signature"].native
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            key.verify(signature, signed, padding.PKCS1v15(), h)
        elif isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            params = sig_algo["parameters"]
            pss_hash = _HASHES.get(params["hash_algorithm"]["algorithm"].native)
            if pss_hash is None:
                raise TimestampInvalid("RSA-PSS hash is not accepted")
            key.verify(signature, signed, padding.PSS(padding.MGF1(pss_hash()), params["salt_length"].native),
                       pss_hash())
        elif isinstance(key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            key.verify(signature, signed, ec.ECDSA(h))
        elif isinstance(key, ed25519.Ed25519PublicKey) and kind == "ed25519":
            key.verify(signature, signed)
        else:
            raise TimestampInvalid(f"signature algorithm {kind} does not fit the TSA certificate's key")
    except InvalidSignature:
        raise TimestampInvalid("the TSA's signature does not verify") from None


def _check_tsa_certificate(cert: x509.Certificate, at: dt.datetime) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampInvalid("the TSA certificate has no extended key usage (timeStamping required)") from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampInvalid("the TSA certificate's extended key usage must be timeStamping only, "
                               "marked critical (RFC 3161 section 2.3)")
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise TimestampInvalid(f"the TSA certificate is not valid at the stamp's time {at.isoformat()}")


def _chain(leaf: x509.Certificate, extra: Sequence[x509.Certificate], cas: Sequence[x509.Certificate],
           at: dt.datetime) -> None:
    cert = leaf
    for _ in range(MAX_CHAIN):
        for ca in cas:
            if ca.subject == cert.issuer:
                try:
                    cert.verify_directly_issued_by(ca)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return
        parents = [c for c in extra if c.subject == cert.issuer and c != cert]
        parent = None
        for p in parents:
            try:
                cert.verify_directly_issued_by(p)
            except (ValueError, TypeError, InvalidSignature):
                continue
            try:
                bc = p.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound:
                continue
            if bc.ca and p.not_valid_before_utc <= at <= p.not_valid_after_utc:
                parent = p
                break
        if parent is None:
            break
        cert = parent
    raise TimestampInvalid(f"the TSA certificate ({leaf.subject.rfc4514_string()}) does not chain to the "
                           "configured [audit] tsa_ca")


def verify_response(der: bytes, req: TimestampRequest, cas: Sequence[x509.Certificate]) -> Stamp:
    """Check a TimeStampResp against the request it answers; the stamp, or TimestampInvalid."""
    try:
        # The status first, on its own: asn1crypto's TimeStampResp does not load a refusal, which has no token.
        status_info = tsp.PKIStatusInfo.load(core.Sequence.load(der, strict=True)[0].dump(), strict=True)
        status = status_info["status"].native
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TimestampInvalid(f"not a TimeStampResp: {exc}") from None
    if status not in ("granted", "granted_with_mods"):
        text = "; ".join(status_info["status_string"].native or [])
        fail = status_info["fail_info"].native
        raise TimestampInvalid(f"the TSA refused: status {status}" + (f", {text}" if text else "")
                               + (f", failure {sorted(fail)}" if fail else ""))
    try:
        token = tsp.TimeStampResp.load(der, strict=True)["time_stamp_token"]
        if token.native is None or token["content_type"].native != "signed_data":
            raise TimestampInvalid("granted but no signed time-stamp token")
        sd: cms.SignedData = token["content"]
        encap = sd["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise TimestampInvalid("the token's content is not a TSTInfo")
        econtent = encap["content"].contents
        info: tsp.TSTInfo = tsp.TSTInfo.load(econtent, strict=True)
        imprint = info["message_imprint"]
        algo = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
        nonce = info["nonce"].native
        gen_time: dt.datetime = info["gen_time"].native
        policy = info["policy"].dotted
        serial = info["serial_number"].native
        signer_infos = sd["signer_infos"]
        certs = [c.chosen for c in sd["certificates"]] if sd["certificates"].native is not None else []
    except TimestampInvalid:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TimestampInvalid(f"malformed time-stamp token: {exc}") from None
    if algo != IMPRINT_ALGORITHM or hashed != req.digest:
        raise TimestampInvalid("the token's message imprint is not the digest we asked to stamp")
    if nonce != req.nonce:
        raise TimestampInvalid("the token's nonce is not the one we sent (a replayed or mixed-up answer)")
    if req.policy is not None and policy != req.policy:
        raise TimestampInvalid(f"the token is under policy {policy}, not the requested {req.policy}")
    if len(signer_infos) != 1:
        raise TimestampInvalid("the token must have exactly one signer")
    si: cms.SignerInfo = signer_infos[0]
    attrs = si["signed_attrs"]
    if attrs.native is None:
        raise TimestampInvalid("the token has no signed attributes")
    if _attr(attrs, "content_type").native != "tst_info":
        raise TimestampInvalid("signed content-type attribute is not TSTInfo")
    digest_name = si["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise TimestampInvalid(f"signature digest {digest_name} is not accepted")
    if _attr(attrs, "message_digest").native != hashlib.new(digest_name, econtent).digest():
        raise TimestampInvalid("signed message-digest attribute does not match the TSTInfo")
    signer_asn1 = _signer_cert(sd, si["sid"])
    signer_der = signer_asn1.dump()
    _check_signing_certificate(attrs, signer_der)
    signer = x509.load_der_x509_certificate(signer_der)
    # The signature covers the DER of the attributes as a SET OF (tag 0x31), not as the [0] IMPLICIT field.
    _verify_signature(signer, si, attrs.untag().dump())
    gen_time = gen_time.astimezone(dt.timezone.utc)
    _check_tsa_certificate(signer, gen_time)
    others = [x509.load_der_x509_certificate(c.dump()) for c in certs if isinstance(c, asn1_x509.Certificate)]
    _chain(signer, others, cas, gen_time)
    return Stamp(token=token.dump(), gen_time_us=_utc_us(gen_time), serial=int(serial), policy=policy,
                 tsa=signer.subject.rfc4514_string())
