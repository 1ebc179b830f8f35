"""The one mapping from the node's typed errors to gRPC status codes with rich details.

Bad documents carry ``google.rpc.BadRequest`` field violations (path + reason); limits carry
``google.rpc.RetryInfo`` when waiting helps. Clients read them with ``grpc_status.rpc_status``.
Servicer methods apply it with ``@grpc_errors``; anything else they raise becomes INTERNAL with an
incident id that is logged with the traceback, so the caller never sees exception text.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

import grpc
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from gateway.errors import GatewayError, ResourceExhausted, Unavailable

log = structlog.get_logger("gateway.transport.status")

P = ParamSpec("P")
R = TypeVar("R")

MAX_VIOLATIONS = 200
# gRPC clients refuse trailing metadata above 8 KiB by default (then they see a bare INTERNAL instead of
# our status), so the encoded details and the message stay well below that, whatever the violations.
MAX_DETAILS_BYTES = 4096
MAX_MESSAGE_CHARS = 1024


def to_status(err: GatewayError) -> status_pb2.Status:
    code = getattr(code_pb2, err.grpc_code)
    st = status_pb2.Status(code=code, message=describe(err))
    if err.violations:
        br = error_details_pb2.BadRequest()
        shown = 0
        for v in err.violations[:MAX_VIOLATIONS]:
            fv = br.field_violations.add(field=v.field[:256], description=v.description[:512])
            if br.ByteSize() > MAX_DETAILS_BYTES:
                br.field_violations.remove(fv)
                break
            shown += 1
        if shown < len(err.violations):
            br.field_violations.add(field="", description=f"... and {len(err.violations) - shown} more violation(s)")
        detail = any_pb2.Any()
        detail.Pack(br)
        st.details.append(detail)
    if isinstance(err, (ResourceExhausted, Unavailable)) and err.retry_after_s is not None:
        ri = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
            seconds=int(err.retry_after_s), nanos=int((err.retry_after_s % 1) * 1e9)))
        detail = any_pb2.Any()
        detail.Pack(ri)
        st.details.append(detail)
    return st


def describe(err: GatewayError) -> str:
    """The status message: the reason, then the first violations, readable without decoding details."""
    if not err.violations:
        return err.message[:MAX_MESSAGE_CHARS]
    shown = "; ".join(str(v) for v in err.violations[:5])
    more = f" (+{len(err.violations) - 5} more)" if len(err.violations) > 5 else ""
    text = f"{err.message}: {shown}"
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS - 3] + "..."
    return text + more


async def abort(context: Any, err: GatewayError) -> None:
    st = to_status(err)
    await context.abort(
        grpc.StatusCode[err.grpc_code],
        describe(err),
        trailing_metadata=(("grpc-status-details-bin", st.SerializeToString()),),
    )


def internal(method: str) -> GatewayError:
    """What the caller of ``method`` learns of an unexpected failure: an id to quote, nothing more."""
    incident = uuid.uuid4().hex
    log.exception("unexpected error", method=method, incident=incident)
    return GatewayError(f"internal error (incident {incident})")


@overload
def grpc_errors(method: Callable[P, AsyncIterator[R]]) -> Callable[P, AsyncIterator[R]]: ...


@overload
def grpc_errors(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]: ...


def grpc_errors(method: Callable[P, Any]) -> Callable[P, Any]:
    """Ends a servicer call whose method raised with the mapped status; ``context`` is the last argument.

    Streaming methods (async generators) stay generators, so what they yielded before failing is sent.
    """
    name = method.__qualname__

    def context_of(args: tuple[Any, ...]) -> Any:
        return args[-1]

    def mapped(exc: Exception) -> GatewayError:
        return exc if isinstance(exc, GatewayError) else internal(name)

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(*args: P.args, **kwargs: P.kwargs) -> AsyncIterator[Any]:
            try:
                async for item in method(*args, **kwargs):
                    yield item
            except grpc.aio.AbortError:
                raise  # the method aborted with its own status
            except Exception as exc:  # noqa: BLE001 - see the module docstring
                await abort(context_of(args), mapped(exc))
        return stream

    @functools.wraps(method)
    async def unary(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return await method(*args, **kwargs)
        except grpc.aio.AbortError:
            raise  # the method aborted with its own status
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            await abort(context_of(args), mapped(exc))
        raise AssertionError("context.abort returned")  # it raises; this line is for type checkers
    return unary
