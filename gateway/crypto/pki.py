"""Federation PKI: key and certificate generation, the on-disk layout, revocation.

Everything here is for demos, tests and small deployments: private keys are written unencrypted.
The layout under a federation directory is fixed because other code (config, tests) relies on it:

    ca/ca.crt ca/ca.key ca/crl.pem
    nodes/<node>/tls.crt|key token.crt|key
    participants/<slug>/signing.crt|key encryption.crt|key client.crt|key
    participants/<slug>/pq-signing.pub|key pq-encryption.pub|key   (ML-DSA-65, ML-KEM-768: hybrid-pq)

A signing key generated in a PKCS#11 token (``gateway pki init --pkcs11 URI``) has no ``.key`` file: its
``pkcs11:`` URI is written to ``<name>.key.uri`` instead (``key_reference`` reads either).
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import shutil
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway import ids
from gateway.crypto import composite
from gateway.crypto import pkcs11 as pkcs11_mod
from gateway.errors import InvalidArgument

PARTICIPANT_URI_PREFIX = "urn:swg:participant:"
NODE_URI_PREFIX = "urn:swg:node:"

DEFAULT_NODES: tuple[str, ...] = ("de-node", "fr-node")
DEFAULT_PARTICIPANTS: tuple[str, ...] = (
    "DE/CUSTOMS/MAIN",
    "DE/POST/MAIN",
    "DE/TAX/MAIN",
    "FR/CUSTOMS/MAIN",
    "FR/POST/MAIN",
)
SIGNING_ALGORITHMS = ("ecdsa-p256", "ed25519")
DEFAULT_CA_NAME = "SWG Demo Federation Root CA"

PrivateKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, x25519.X25519PrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, x25519.X25519PublicKey]

README_TEXT = """DEMO ONLY - never use in production.

This directory is a demonstration federation PKI for the Single Window gateway.
All private keys are stored UNENCRYPTED and are public (they are committed to a repository).

It was made with:
    gateway pki init --out {out}{extra}

Layout:
    ca/ca.crt, ca/ca.key, ca/crl.pem            federation root CA (ECDSA P-256) and its CRL
    nodes/<node>/tls.crt, tls.key               node TLS certificate (serverAuth + clientAuth)
    nodes/<node>/token.crt, token.key           ES256 key the node signs JWT bearer tokens with
    participants/<slug>/signing.crt, .key       participant signing key ({signing_algorithm})
    participants/<slug>/encryption.crt, .key    participant X25519 encryption key (keyAgreement)
    participants/<slug>/client.crt, .key        TLS client certificate of the participant's application
    participants/<slug>/pq-signing.pub, .key    ML-DSA-65 key (hybrid-pq composite signatures)
    participants/<slug>/pq-encryption.pub, .key ML-KEM-768 key (hybrid-pq key wraps, with the X25519 key)
                                                No X.509 for these: the signed directory pins the .pub files.

Nodes: {nodes}
Participants: {participants}
Validity: {days} days from {created}
"""


class Profile(enum.Enum):
    """What a leaf certificate is for; decides key usage, extended key usage and the kind of name."""

    SIGNING = "signing"
    ENCRYPTION = "encryption"
    TLS_CLIENT = "client"
    NODE_TLS = "tls"
    TOKEN_SIGNING = "token"


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


# ---------------------------------------------------------------------------------------------
# names


def validate_participant_id(participant: str) -> str:
    if not ids.is_participant_id(participant):
        raise InvalidArgument(f"participant id {participant!r} is not CC/ROLE/CODE (e.g. DE/POST/MAIN)")
    return participant


def validate_node_name(node: str) -> str:
    if not ids.is_node_name(node):
        raise InvalidArgument(f"node name {node!r} must be lowercase letters, digits, '.' or '-'")
    return node


def participant_slug(participant: str) -> str:
    """``DE/POST/MAIN`` -> ``de-post-main``: the directory name of a participant's keys."""
    return validate_participant_id(participant).lower().replace("/", "-")


# ---------------------------------------------------------------------------------------------
# keys and certificates


def new_key(kind: str = "ecdsa-p256") -> PrivateKey:
    if kind == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "x25519":
        return x25519.X25519PrivateKey.generate()
    raise InvalidArgument(f"unknown key kind {kind!r}; use ecdsa-p256, ed25519 or x25519")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def create_ca(
    common_name: str = DEFAULT_CA_NAME,
    *,
    days: int = 3650,
    not_before: dt.datetime | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Authority:
    key = key or ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - dt.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_agreement: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def key_usage_for(profile: Profile) -> x509.KeyUsage:
    if profile is Profile.SIGNING:
        return _key_usage(digital_signature=True, content_commitment=True)
    if profile is Profile.ENCRYPTION:
        return _key_usage(key_agreement=True)
    return _key_usage(digital_signature=True)


def extended_key_usage_for(profile: Profile) -> list[x509.ObjectIdentifier] | None:
    if profile is Profile.TLS_CLIENT:
        return [ExtendedKeyUsageOID.CLIENT_AUTH]
    if profile is Profile.NODE_TLS:
        return [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return None


def issue_certificate(
    ca: Authority,
    public_key: PublicKey,
    *,
    profile: Profile,
    participant: str | None = None,
    node: str | None = None,
    days: int = 3650,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
    extended_key_usage: Sequence[x509.ObjectIdentifier] | None = None,
    extra_dns: Sequence[str] = (),
) -> x509.Certificate:
    """Issue one leaf certificate naming exactly one participant or one node.

    ``key_usage``/``extended_key_usage`` override the profile's; tests use them (and the validity
    arguments) to make deliberately wrong certificates.
    """
    if (participant is None) == (node is None):
        raise InvalidArgument("a certificate names exactly one participant or one node")
    if participant is not None:
        subject_cn = validate_participant_id(participant)
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(PARTICIPANT_URI_PREFIX + participant)]
    else:
        assert node is not None
        subject_cn = validate_node_name(node)
        sans = [x509.UniformResourceIdentifier(NODE_URI_PREFIX + node)]
    if profile is Profile.NODE_TLS:
        sans += [x509.DNSName("localhost"), x509.DNSName(subject_cn), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    sans += [x509.DNSName(d) for d in extra_dns]
    start = not_before or _now() - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(days=days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(ca.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage or key_usage_for(profile), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    eku = extended_key_usage if extended_key_usage is not None else extended_key_usage_for(profile)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return builder.sign(ca.key, hashes.SHA256())


def create_crl(
    ca: Authority,
    revoked: Iterable[x509.RevokedCertificate] = (),
    *,
    days: int = 3650,
    now: dt.datetime | None = None,
) -> x509.CertificateRevocationList:
    now = now or _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=days))
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca.key, hashes.SHA256())


def revoked_entry(cert: x509.Certificate, at: dt.datetime | None = None) -> x509.RevokedCertificate:
    return (
        x509.RevokedCertificateBuilder()
        .serial_number(cert.serial_number)
        .revocation_date(at or _now())
        .build()
    )


# ---------------------------------------------------------------------------------------------
# PEM files


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


URI_SUFFIX = ".uri"


def key_reference(key_path: Path) -> Path | str:
    """What a node config names as this key: the PEM file, or the ``pkcs11:`` URI of a key in a token."""
    uri_file = key_path.with_name(key_path.name + URI_SUFFIX)
    if uri_file.is_file():
        return uri_file.read_text(encoding="utf-8").strip()
    return key_path


@dataclass(frozen=True)
class Pkcs11Keys:
    """Generate signing keys inside a token: ``uri`` names the token (and module / pin-source, no object);
    each key gets ``object=<slug>-signing`` (participants) or ``object=<node>-token`` (nodes)."""

    uri: str
    options: pkcs11_mod.Pkcs11Options = field(default_factory=pkcs11_mod.Pkcs11Options)
    # Participants whose signing key goes into the token (None = all); node token keys only if asked.
    participants: frozenset[str] | None = None
    node_token_keys: bool = False
    # Put before every label, so several federations can share one token (tests do).
    label_prefix: str = ""

    def key_uri(self, label: str) -> str:
        base = pkcs11_mod.parse_uri_base(self.uri)
        path, sep, query = base.partition("?")
        return f"{path};object={urllib.parse.quote(self.label_prefix + label, safe='-_.')}{sep}{query}"


def _token_pair(ca: Authority, cert_path: Path, key_path: Path, kind: str, profile: Profile, days: int,
                keys: Pkcs11Keys, label: str, *, participant: str | None = None, node: str | None = None) -> str:
    uri = keys.key_uri(label)
    public = pkcs11_mod.generate_key(uri, kind, keys.options)
    write_cert(cert_path, issue_certificate(ca, public, profile=profile, participant=participant, node=node,
                                            days=days))
    key_path.unlink(missing_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.with_name(key_path.name + URI_SUFFIX).write_text(uri + "\n", encoding="utf-8")
    return uri


def write_key(path: Path, key: PrivateKey) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key_pem(key))
    path.chmod(0o600)
    return path


def write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def write_crl(path: Path, crl: x509.CertificateRevocationList) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return path


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_private_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, x25519.X25519PrivateKey)):
        raise InvalidArgument(f"{path}: unsupported key type {type(key).__name__}")
    return key


def load_authority(ca_dir: Path) -> Authority:
    key = load_private_key(Path(ca_dir) / "ca.key")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidArgument(f"{ca_dir}/ca.key is not an ECDSA key")
    return Authority(key, load_cert(Path(ca_dir) / "ca.crt"))


def revoke(ca_dir: Path, cert_path: Path, *, at: dt.datetime | None = None, days: int = 3650) -> Path:
    """Add the certificate at ``cert_path`` to ``ca_dir/crl.pem`` and re-sign the CRL."""
    ca_dir = Path(ca_dir)
    ca = load_authority(ca_dir)
    cert = load_cert(cert_path)
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise InvalidArgument(f"{cert_path} was not issued by the CA in {ca_dir}") from exc
    crl_path = ca_dir / "crl.pem"
    entries: list[x509.RevokedCertificate] = []
    if crl_path.exists():
        entries = list(x509.load_pem_x509_crl(crl_path.read_bytes()))
    if all(e.serial_number != cert.serial_number for e in entries):
        entries.append(revoked_entry(cert, at))
    return write_crl(crl_path, create_crl(ca, entries, days=days))


# ---------------------------------------------------------------------------------------------
# the federation layout


@dataclass(frozen=True)
class NodePaths:
    tls_cert: Path
    tls_key: Path
    token_cert: Path
    token_key: Path


@dataclass(frozen=True)
class ParticipantPaths:
    signing_cert: Path
    signing_key: Path
    encryption_cert: Path
    encryption_key: Path
    client_cert: Path
    client_key: Path
    pq_signing_pub: Path
    pq_signing_key: Path
    pq_encryption_pub: Path
    pq_encryption_key: Path


@dataclass(frozen=True)
class FederationPaths:
    root: Path
    nodes: dict[str, NodePaths] = field(default_factory=dict)
    participants: dict[str, ParticipantPaths] = field(default_factory=dict)

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def ca_cert(self) -> Path:
        return self.ca_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.ca_dir / "ca.key"

    @property
    def crl(self) -> Path:
        return self.ca_dir / "crl.pem"

    @classmethod
    def of(cls, root: Path, nodes: Iterable[str] = (), participants: Iterable[str] = ()) -> FederationPaths:
        return cls(
            Path(root),
            {n: node_paths(root, n) for n in nodes},
            {p: participant_paths(root, p) for p in participants},
        )


def node_paths(root: Path, node: str) -> NodePaths:
    d = Path(root) / "nodes" / validate_node_name(node)
    return NodePaths(d / "tls.crt", d / "tls.key", d / "token.crt", d / "token.key")


def participant_paths(root: Path, participant: str) -> ParticipantPaths:
    d = Path(root) / "participants" / participant_slug(participant)
    return ParticipantPaths(
        d / "signing.crt", d / "signing.key", d / "encryption.crt", d / "encryption.key",
        d / "client.crt", d / "client.key",
        d / "pq-signing.pub", d / "pq-signing.key", d / "pq-encryption.pub", d / "pq-encryption.key",
    )


def generate_federation(
    out: Path,
    nodes: Sequence[str] = DEFAULT_NODES,
    participants: Sequence[str] = DEFAULT_PARTICIPANTS,
    *,
    signing_algorithm: str = "ecdsa-p256",
    days: int = 3650,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    ca_name: str = DEFAULT_CA_NAME,
    pkcs11: Pkcs11Keys | None = None,
) -> FederationPaths:
    """Create a complete federation PKI under ``out`` in the fixed layout; returns its paths.

    With ``pkcs11``, the signing keys it selects are generated inside the token (not extractable) and
    only their certificates (and ``.key.uri`` files) are written."""
    out = Path(out)
    for p in participants:
        validate_participant_id(p)
    for n in nodes:
        validate_node_name(n)
    if signing_algorithm not in SIGNING_ALGORITHMS:
        raise InvalidArgument(f"signing algorithm must be one of {', '.join(SIGNING_ALGORITHMS)}")
    if len(set(participants)) != len(participants) or len(set(nodes)) != len(nodes):
        raise InvalidArgument("node names and participant ids must be unique")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise InvalidArgument(f"{out} exists and is not empty; use --force to overwrite")
        # --force must never wipe an unrelated directory given by mistake.
        if not (out / "ca" / "ca.crt").exists():
            raise InvalidArgument(f"{out} does not look like a federation PKI directory; refusing to replace it")
        shutil.rmtree(out)
    say = progress or (lambda _msg: None)
    paths = FederationPaths.of(out, nodes, participants)

    ca = create_ca(ca_name, days=days)
    write_key(paths.ca_key, ca.key)
    write_cert(paths.ca_cert, ca.cert)
    write_crl(paths.crl, create_crl(ca, days=days))
    say(f"ca           {paths.ca_cert} (+ ca.key, crl.pem)")

    for node in nodes:
        np_ = paths.nodes[node]
        _issue_pair(ca, np_.tls_cert, np_.tls_key, "ecdsa-p256", Profile.NODE_TLS, days, node=node)
        say(f"node tls     {np_.tls_cert}")
        if pkcs11 is not None and pkcs11.node_token_keys:
            uri = _token_pair(ca, np_.token_cert, np_.token_key, "ecdsa-p256", Profile.TOKEN_SIGNING, days,
                              pkcs11, f"{node}-token", node=node)
            say(f"node token   {np_.token_cert} (key in token: {uri})")
        else:
            _issue_pair(ca, np_.token_cert, np_.token_key, "ecdsa-p256", Profile.TOKEN_SIGNING, days, node=node)
            say(f"node token   {np_.token_cert}")

    for participant in participants:
        pp = paths.participants[participant]
        if pkcs11 is not None and (pkcs11.participants is None or participant in pkcs11.participants):
            uri = _token_pair(ca, pp.signing_cert, pp.signing_key, signing_algorithm, Profile.SIGNING, days,
                              pkcs11, f"{participant_slug(participant)}-signing", participant=participant)
            say(f"signing      {pp.signing_cert} (key in token: {uri})")
        else:
            _issue_pair(ca, pp.signing_cert, pp.signing_key, signing_algorithm, Profile.SIGNING, days,
                        participant=participant)
            say(f"signing      {pp.signing_cert}")
        _issue_pair(ca, pp.encryption_cert, pp.encryption_key, "x25519", Profile.ENCRYPTION, days,
                    participant=participant)
        say(f"encryption   {pp.encryption_cert}")
        _issue_pair(ca, pp.client_cert, pp.client_key, "ecdsa-p256", Profile.TLS_CLIENT, days,
                    participant=participant)
        say(f"tls client   {pp.client_cert}")
        write_pq_keys(pp)
        say(f"pq keys      {pp.pq_signing_pub} (+ {pp.pq_encryption_pub.name})")

    extra = "".join(f" --node {n}" for n in nodes) + "".join(f" --participant {p}" for p in participants)
    extra += f" --signing-algorithm {signing_algorithm} --days {days}"
    (out / "README.txt").write_text(
        README_TEXT.format(
            out=out.name, extra=extra, signing_algorithm=signing_algorithm, nodes=", ".join(nodes),
            participants=", ".join(participants), days=days, created=_now().date().isoformat(),
        )
    )
    say(f"readme       {out / 'README.txt'}")
    return paths


def write_pq_keys(pp: ParticipantPaths) -> None:
    """A participant's ML-DSA-65 and ML-KEM-768 keys (hybrid-pq); ``cryptography`` cannot certify them, so
    the directory binds the public halves (``pq_signing_key`` / ``pq_encryption_key``, pinned)."""
    sign, kem = composite.new_mldsa_key(), composite.new_mlkem_key()
    for key_path, pub_path, key in ((pp.pq_signing_key, pp.pq_signing_pub, sign),
                                    (pp.pq_encryption_key, pp.pq_encryption_pub, kem)):
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(composite.private_pem(key))
        key_path.chmod(0o600)
        pub_path.write_bytes(composite.public_pem(key.public_key()))


def _issue_pair(
    ca: Authority,
    cert_path: Path,
    key_path: Path,
    kind: str,
    profile: Profile,
    days: int,
    *,
    participant: str | None = None,
    node: str | None = None,
) -> None:
    key = new_key(kind)
    cert = issue_certificate(ca, key.public_key(), profile=profile, participant=participant, node=node, days=days)
    write_key(key_path, key)
    write_cert(cert_path, cert)
