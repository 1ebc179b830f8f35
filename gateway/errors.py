"""The one error hierarchy of the node.

Modules raise these; only ``gateway.transport.status`` turns them into gRPC status codes. Each class
names the status it maps to, and whether trying the same thing again later may succeed (``retryable``),
so both decisions are data, not chains of ``isinstance`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One problem in a request or document: where (XPath, JSON pointer or request field) and why."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field}: {self.description}"


class GatewayError(Exception):
    """Base of every error the node reports to a caller."""

    grpc_code = "INTERNAL"
    # An error of no more precise kind may be passing (a bug fixed, a restart); refusals say otherwise.
    retryable = True

    def __init__(self, message: str, *, violations: tuple[FieldViolation, ...] | list[FieldViolation] = ()):
        super().__init__(message)
        self.message = message
        self.violations = tuple(violations)

    def __str__(self) -> str:
        if not self.violations:
            return self.message
        return self.message + "; " + "; ".join(str(v) for v in self.violations)


class InvalidArgument(GatewayError):
    """The request or document is malformed or invalid; nothing was stored."""

    grpc_code = "INVALID_ARGUMENT"
    retryable = False


class Unauthenticated(GatewayError):
    grpc_code = "UNAUTHENTICATED"
    # A token expires and is renewed; a certificate the trust store refuses is not (TrustError).
    retryable = True


class PermissionDenied(GatewayError):
    grpc_code = "PERMISSION_DENIED"
    retryable = False


class NotFound(GatewayError):
    grpc_code = "NOT_FOUND"
    retryable = False


class AlreadyExists(GatewayError):
    grpc_code = "ALREADY_EXISTS"
    retryable = False


class ResourceExhausted(GatewayError):
    """A limit was hit (size, rate, storage). ``retry_after_s`` is set when waiting helps."""

    grpc_code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class FailedPrecondition(GatewayError):
    grpc_code = "FAILED_PRECONDITION"
    retryable = False


class Unavailable(GatewayError):
    """A dependency (database, peer node) is not usable right now; retrying later may succeed.
    ``retry_after_s`` is sent as RetryInfo when set."""

    grpc_code = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConfigError(Exception):
    """Configuration is invalid; ``problems`` name the exact key of each problem."""

    def __init__(self, problems: list[FieldViolation] | tuple[FieldViolation, ...]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Problems:
    """Collects violations so that a caller gets all of them at once, not the first only."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, path: str, reason: str) -> None:
        self.items.append(FieldViolation(path, reason))

    def __bool__(self) -> bool:
        return bool(self.items)


# --- certificates (gateway.crypto.trust) ---------------------------------------------------------------


class TrustError(Unauthenticated):
    """A certificate is not acceptable to the federation trust store for the purpose asked."""

    retryable = False


class UntrustedIssuer(TrustError):
    """Not issued (signed) by the federation CA."""


class CertificateExpired(TrustError):
    pass


class CertificateNotYetValid(TrustError):
    pass


class CertificateRevoked(TrustError):
    pass


class WrongKeyUsage(TrustError):
    """Key usage, extended key usage, key type or kind of name (node/participant) do not fit the purpose."""


class MalformedCertificate(TrustError):
    pass


class CrlInvalid(TrustError):
    """The CRL is not signed by the federation CA, or is past its nextUpdate."""


# --- envelopes and receipts (gateway.envelope) -----------------------------------------------------


class EnvelopeError(GatewayError):
    """An envelope, receipt or JWS failed verification or decryption.

    Forgery and tampering map to PERMISSION_DENIED: the caller is authenticated, but the content is
    not acceptable as coming from who it claims. Undecodable input is INVALID_ARGUMENT.
    """

    grpc_code = "PERMISSION_DENIED"
    retryable = False


class MalformedEnvelope(EnvelopeError):
    """Not a strictly canonical Envelope / JWS / receipt; nothing was verified."""

    grpc_code = "INVALID_ARGUMENT"


class BadSignature(EnvelopeError):
    """The JWS signature is invalid, uses a forbidden algorithm, or does not cover these bytes."""


class SignerNotTrusted(EnvelopeError):
    """The signer certificate failed the trust store check; ``cause`` is the TrustError."""

    def __init__(self, cause: TrustError):
        super().__init__(f"signer certificate not trusted: {cause}")
        self.cause = cause


class SenderMismatch(EnvelopeError):
    """The certificate that signed names someone else than the header's sender (or receipt's recipient)."""


class NotARecipient(EnvelopeError):
    """No key wrap for this participant and encryption certificate."""


class DecryptionFailed(EnvelopeError):
    pass


class CommitmentMismatch(EnvelopeError):
    """The decrypted plaintext is not the one the sender committed to."""


class ReceiptMismatch(EnvelopeError):
    """A Receipt's proto fields differ from its authoritative JWS payload."""


class ProfileRefused(EnvelopeError):
    """The envelope or signature uses a crypto profile the federation's directory no longer accepts (a
    classic envelope or signature after the hybrid-pq transition window closed), or claims a profile its
    contents do not have."""
