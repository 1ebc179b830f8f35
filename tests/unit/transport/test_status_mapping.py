"""The one mapping from domain errors to gRPC status: each class's code, its retryable flag, and the
@grpc_errors decorator on unary and streaming methods (unexpected errors never show their text)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from gateway import errors
from gateway.transport.status import grpc_errors, to_status

CODES: dict[type[errors.GatewayError], grpc.StatusCode] = {
    errors.GatewayError: grpc.StatusCode.INTERNAL,
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.TrustError: grpc.StatusCode.UNAUTHENTICATED,
    errors.UntrustedIssuer: grpc.StatusCode.UNAUTHENTICATED,
    errors.CertificateExpired: grpc.StatusCode.UNAUTHENTICATED,
    errors.CertificateRevoked: grpc.StatusCode.UNAUTHENTICATED,
    errors.EnvelopeError: grpc.StatusCode.PERMISSION_DENIED,
    errors.MalformedEnvelope: grpc.StatusCode.INVALID_ARGUMENT,
    errors.BadSignature: grpc.StatusCode.PERMISSION_DENIED,
    errors.SenderMismatch: grpc.StatusCode.PERMISSION_DENIED,
    errors.DecryptionFailed: grpc.StatusCode.PERMISSION_DENIED,
}

# What a peer node may try again later (passing) and what it must give up on (permanent refusals).
RETRYABLE = {errors.GatewayError, errors.Unauthenticated, errors.ResourceExhausted, errors.Unavailable}


def all_error_classes() -> list[type[errors.GatewayError]]:
    out, todo = [], [errors.GatewayError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return [c for c in out if c.__module__ == "gateway.errors"]


def make(cls: type[errors.GatewayError]) -> errors.GatewayError:
    if cls is errors.SignerNotTrusted:
        return cls(errors.UntrustedIssuer("not ours"))
    return cls("refused")


class AbortingContext:
    """Records the status a method ends with; ``abort`` raises as grpc.aio's does."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None
        self.details = ""
        self.status = status_pb2.Status()

    async def abort(self, code: grpc.StatusCode, details: str, trailing_metadata: Any = ()) -> None:
        self.code, self.details = code, details
        for key, value in trailing_metadata:
            if key == "grpc-status-details-bin":
                self.status = status_pb2.Status.FromString(value)
        raise grpc.aio.AbortError(details)


@pytest.mark.parametrize("cls", sorted(CODES, key=lambda c: c.__name__))
def test_each_error_class_maps_to_its_code(cls: type[errors.GatewayError]) -> None:
    st = to_status(make(cls))
    assert st.code == getattr(code_pb2, CODES[cls].name)
    assert st.message == "refused"


def test_every_error_class_names_a_known_code_and_a_retryable_flag() -> None:
    for cls in all_error_classes():
        assert hasattr(grpc.StatusCode, cls.grpc_code), cls
        assert isinstance(cls.retryable, bool), cls


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_retryable_flags(cls: type[errors.GatewayError]) -> None:
    assert cls.retryable is (cls in RETRYABLE)


def test_trust_errors_are_permanent_although_unauthenticated_is_not() -> None:
    assert errors.Unauthenticated.retryable and not errors.CertificateRevoked.retryable
    assert issubclass(errors.CertificateRevoked, errors.Unauthenticated)


def test_violations_travel_as_bad_request_details() -> None:
    err = errors.InvalidArgument("bad document", violations=[errors.FieldViolation("/item/0/id", "not an S10 id")])
    st = to_status(err)
    br = error_details_pb2.BadRequest()
    assert st.details[0].Unpack(br)
    assert [(v.field, v.description) for v in br.field_violations] == [("/item/0/id", "not an S10 id")]


class Servicer:
    def __init__(self, raise_: BaseException | None = None) -> None:
        self.raise_ = raise_

    @grpc_errors
    async def Unary(self, request: str, context: Any) -> str:
        if self.raise_ is not None:
            raise self.raise_
        return request.upper()

    @grpc_errors
    async def Stream(self, request: str, context: Any) -> AsyncIterator[str]:
        yield "first"
        if self.raise_ is not None:
            raise self.raise_
        yield "second"


def call_unary(servicer: Servicer, ctx: AbortingContext) -> str:
    return asyncio.run(servicer.Unary("hello", ctx))


def call_stream(servicer: Servicer, ctx: AbortingContext) -> list[str]:
    got: list[str] = []

    async def run() -> None:
        async for item in servicer.Stream("x", ctx):
            got.append(item)
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(run())
    return got


def test_unary_passes_results_through() -> None:
    ctx = AbortingContext()
    assert call_unary(Servicer(), ctx) == "HELLO"
    assert ctx.code is None


def test_unary_domain_error_aborts_with_its_status() -> None:
    ctx = AbortingContext()
    with pytest.raises(grpc.aio.AbortError):
        call_unary(Servicer(errors.NotFound("no message m-1")), ctx)
    assert ctx.code == grpc.StatusCode.NOT_FOUND
    assert ctx.details == "no message m-1"
    assert ctx.status.code == code_pb2.NOT_FOUND


def test_unary_unexpected_error_is_internal_with_an_incident_id_and_no_raw_text() -> None:
    ctx = AbortingContext()
    with pytest.raises(grpc.aio.AbortError):
        call_unary(Servicer(KeyError("secret-column")), ctx)
    assert ctx.code == grpc.StatusCode.INTERNAL
    assert "incident" in ctx.details
    assert "secret-column" not in ctx.details and "KeyError" not in ctx.details


def test_stream_sends_what_it_yielded_then_the_mapped_status() -> None:
    ctx = AbortingContext()
    assert call_stream(Servicer(errors.PermissionDenied("not yours")), ctx) == ["first"]
    assert ctx.code == grpc.StatusCode.PERMISSION_DENIED


def test_stream_unexpected_error_is_internal() -> None:
    ctx = AbortingContext()
    assert call_stream(Servicer(RuntimeError("boom at 0xdeadbeef")), ctx) == ["first"]
    assert ctx.code == grpc.StatusCode.INTERNAL
    assert "boom" not in ctx.details


def test_an_abort_of_the_method_itself_is_left_alone() -> None:
    ctx = AbortingContext()
    with pytest.raises(grpc.aio.AbortError):
        call_unary(Servicer(grpc.aio.AbortError("own")), ctx)
    assert ctx.code is None
