"""The gRPC server interceptor that applies ``gateway.crypto.tokens`` to every call (certificate, bearer
token, scope, rate limit) and hands the servicer an ``Identity`` through a context variable.

A streaming call is admitted once, at its start, but may stay open for hours (a Receive stream, a peer's
Relay link). The interceptor keeps the open authenticated streams; after a CRL reload
``close_revoked`` checks each one's certificate again and ends those no longer trusted with their status
(UNAUTHENTICATED, "certificate ... is revoked").
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from gateway.crypto.tokens import (ALGORITHMS, METHOD_SCOPES, OPEN_PREFIXES, SCOPES, Authenticator, Identity,
                                   cert_thumbprint, issue_token)
from gateway.errors import GatewayError, Unauthenticated
from gateway.transport.ratelimit import RateLimiter
from gateway.transport.status import internal

__all__ = ["ALGORITHMS", "METHOD_SCOPES", "OPEN_PREFIXES", "SCOPES", "AbortFn", "AuthInterceptor", "Authenticator",
           "Identity", "OpenCall", "cert_thumbprint", "current_identity", "issue_token"]

# Each RPC runs in its own task, so the identity set for one call is never seen by another.
_current: contextvars.ContextVar[Identity] = contextvars.ContextVar("swg_identity")


def current_identity() -> Identity:
    return _current.get()


AbortFn = Callable[[Any, GatewayError], Awaitable[None]]


@dataclass(eq=False)
class OpenCall:
    """An admitted streaming call: who, with which certificate, and how to end it from outside."""

    method: str
    identity: Identity
    pem: bytes
    # Set when the call must end: the error it ends with.
    error: GatewayError | None = None
    # Entered only while the handler waits for its next item; rescheduled to "now" to interrupt that wait.
    waiting: asyncio.Timeout | None = None

    def end(self, err: GatewayError) -> None:
        self.error = err
        if self.waiting is not None:
            self.waiting.reschedule(asyncio.get_running_loop().time())


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call before its handler runs; refusals become UNAUTHENTICATED/PERMISSION_DENIED."""

    def __init__(self, authenticator: Authenticator, abort: AbortFn,
                 on_refused: Callable[[str, GatewayError, str], None], limiter: RateLimiter | None = None):
        """``on_refused(method, error, participant)``: participant is "" when the caller is not known."""
        self._auth = authenticator
        self._abort = abort
        self._on_refused = on_refused
        self._limiter = limiter
        self._open: set[OpenCall] = set()

    def close_revoked(self) -> list[tuple[OpenCall, GatewayError]]:
        """End every open stream whose certificate is no longer trusted (call after a CRL reload, on the loop)."""
        ended: list[tuple[OpenCall, GatewayError]] = []
        for call in list(self._open):
            if call.error is not None:
                continue
            try:
                self._auth.recheck(call.method, call.pem)
            except GatewayError as err:
                closed = Unauthenticated(f"stream closed: the {call.identity.kind} certificate of "
                                         f"{call.identity.principal} is no longer trusted: {err.message}")
                call.end(closed)
                ended.append((call, closed))
        return ended

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        auth = self._auth
        abort = self._abort
        on_refused = self._on_refused
        limiter = self._limiter

        async def admit(context: Any) -> bool:
            """Authenticate the call; on refusal abort it with the mapped status and say no."""
            ident: Identity | None = None
            try:
                ident = auth.authenticate(method, context.auth_context(), context.invocation_metadata() or ())
                # Rate limits apply per authenticated participant, before any work is done for the call;
                # peer nodes are not limited here (a relay carries many participants' messages).
                if limiter is not None and ident is not None and ident.kind == "participant":
                    limiter.acquire(ident.principal)
            except GatewayError as err:
                on_refused(method, err, ident.principal if ident is not None else "")
                await abort(context, err)
                return False
            except Exception:  # a defect, never the caller's to read: INTERNAL with an incident id in the log
                await abort(context, internal(method))
                return False
            if ident is not None:
                # Each RPC runs in its own task, so the identity cannot leak into another call.
                _current.set(ident)
            return True

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: Any) -> Any:
                return await inner_uu(request, context) if await admit(context) else None

            return grpc.unary_unary_rpc_method_handler(unary_unary, handler.request_deserializer,
                                                       handler.response_serializer)
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(request_iterator: Any, context: Any) -> Any:
                return await inner_su(request_iterator, context) if await admit(context) else None

            return grpc.stream_unary_rpc_method_handler(stream_unary, handler.request_deserializer,
                                                        handler.response_serializer)
        open_calls = self._open

        async def watched(context: Any, items: AsyncIterator[Any]) -> AsyncIterator[Any]:
            """``items`` of an admitted stream, ended with the call's error once ``close_revoked`` says so."""
            ident = _current.get(None)
            pems = list(context.auth_context().get("x509_pem_cert", []))
            if ident is None or not pems:  # open methods (health, reflection): nothing to revoke
                async for item in items:
                    yield item
                return
            call = OpenCall(method, ident, pems[0])
            open_calls.add(call)
            try:
                while call.error is None:
                    try:
                        async with asyncio.timeout(None) as waiting:
                            call.waiting = waiting
                            try:
                                item = await anext(items)
                            finally:
                                call.waiting = None
                    except StopAsyncIteration:
                        return
                    except TimeoutError:
                        if call.error is None:
                            raise
                        break
                    yield item
                await _close(items)
                on_refused(method, call.error, ident.principal)
                await abort(context, call.error)
            finally:
                open_calls.discard(call)

        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(_streaming(handler.unary_stream, admit, watched),
                                                        handler.request_deserializer, handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream, admit, watched),
                                                     handler.request_deserializer, handler.response_serializer)


async def _close(items: AsyncIterator[Any]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()


def _streaming(inner: Callable[[Any, Any], Any], admit: Callable[[Any], Awaitable[bool]],
               watched: Callable[[Any, AsyncIterator[Any]], AsyncIterator[Any]]) -> Callable[[Any, Any], Any]:
    """Wrap a server-streaming handler in its own style: grpc.aio tells an async generator (which yields its
    responses) from a coroutine (which writes them with ``context.write``, as the health servicer's Watch does)
    by the handler's function type, so the wrapper must be of the same type as what it wraps. Generator
    handlers (Receive, Relay, SubmitStream) are watched: a revoked caller's stream is ended."""
    if inspect.isasyncgenfunction(inner):
        async def generator(request: Any, context: Any) -> Any:
            if await admit(context):
                async for item in watched(context, inner(request, context)):
                    yield item

        return generator

    async def coroutine(request: Any, context: Any) -> Any:
        if await admit(context):
            await inner(request, context)

    return coroutine
