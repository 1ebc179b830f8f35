"""Decoding, validating and encoding documents without holding up the event loop.

A node answers every call from one event loop. Reading a maximum-size document (4 MiB, some 160,000
items) takes seconds of pure Python (parsing, validation, writing XML), and while it runs nothing else
is answered: not a health check, not a one-item submit. So documents of ``limits.offload_bytes`` or more
are decoded and encoded in a small pool of worker processes (``limits.codec_processes``), which also puts
the machine's other cores to work; smaller documents stay inline, where a hop to another process would
cost more than the work.

What crosses to a worker is bytes and format names only: the worker functions below are module-level
(picklable by name) and read nothing but their arguments. A worker hands back the canonical protobuf
bytes, which the node parses again in a thread (a C parser, some 50 ms for the largest document).
The pool is created when the node starts serving (its processes when the first large document comes)
and shut down when it stops; without it (a CLI command, a unit test) everything runs inline.
Spawned workers import the program's main module again (``multiprocessing``'s rule): a script that starts
a node in-process needs an ``if __name__ == "__main__":`` guard (``gateway serve`` and pytest have one).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

import structlog
from google.protobuf.message import Message

from adapters import registry
from adapters.errors import Violation
from adapters.validation import RuleClasses
from gateway.errors import Unavailable

log = structlog.get_logger("gateway.codec")

T = TypeVar("T")

#: Documents at least this large (bytes) are decoded and encoded in the worker processes.
DEFAULT_OFFLOAD_BYTES = 256 * 1024


def decode_to_canonical(fmt: str, content: bytes, profile: str | None) -> tuple[str, bytes, list[Violation]]:
    """Worker: decode and validate ``content`` written in ``fmt``; (document type, canonical protobuf bytes,
    warnings)."""
    document_type, msg, warnings = registry.decode_with_warnings(fmt, content, profile=profile)
    return document_type, msg.SerializeToString(deterministic=True), warnings


def decode_checked(fmt: str, content: bytes, profile: str | None, classes: RuleClasses | None
                   ) -> tuple[str, bytes, tuple[Violation, ...], tuple[registry.ItemCheck, ...]]:
    """Worker: ``registry.decode_per_item``; the message travels back as canonical protobuf bytes (a
    protobuf message does not pickle)."""
    found = registry.decode_per_item(fmt, content, profile=profile, classes=classes)
    return (found.document_type, found.msg.SerializeToString(deterministic=True), found.document_problems,
            found.items)


def encode_from_canonical(fmt: str, document_type: str, payload: bytes) -> bytes:
    """Worker: write the canonical ``payload`` of ``document_type`` in format ``fmt``."""
    return registry.encode(fmt, document_type, registry.DOCUMENT_TYPES[document_type].FromString(payload))


class Codec:
    """The adapters' decode and encode, inline for small documents and in worker processes for large ones."""

    def __init__(self, offload_bytes: int = DEFAULT_OFFLOAD_BYTES, processes: int = 1):
        self.offload_bytes = offload_bytes
        self.processes = processes
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    def start(self) -> None:
        """Create the worker pool (no-op with ``processes = 0``). Workers are spawned, never forked: a fork
        of a process running gRPC's threads is not safe."""
        if self._pool is not None or self.processes < 1:
            return
        # Workers are spawned on demand, by the first large document (which waits for it, about a second,
        # off the loop): a node that never sees one, like most in the tests, starts no process.
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"))

    def close(self) -> None:
        """Stop taking documents; the workers exit once their current one is done. Not waited for: a node's
        stop must not hang on a worker (one still starting up, one busy with a 4 MiB document)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _offloaded(self, size: int) -> bool:
        return self._pool is not None and size >= self.offload_bytes

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        pool = self._pool
        assert pool is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): a new pool serves the next document; this one may retry.
            log.error("document worker process died; starting a new pool")
            if self._pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                self.start()
            raise Unavailable("the document worker process failed; retry the call") from None

    async def decode(self, fmt: str, content: bytes, *, profile: str | None = None) -> tuple[str, Message]:
        """``registry.decode`` (raises its AdapterErrors), in a worker process for a large ``content``."""
        document_type, msg, _ = await self.decode_with_warnings(fmt, content, profile=profile)
        return document_type, msg

    async def decode_with_warnings(self, fmt: str, content: bytes, *,
                                   profile: str | None = None) -> tuple[str, Message, list[Violation]]:
        """``registry.decode_with_warnings``, in a worker process for a large ``content``."""
        if not self._offloaded(len(content)):
            return registry.decode_with_warnings(fmt, content, profile=profile)
        document_type, canonical, warnings = await self._run(decode_to_canonical, fmt, bytes(content), profile)
        msg = await asyncio.to_thread(registry.DOCUMENT_TYPES[document_type].FromString, canonical)
        return document_type, msg, warnings

    async def decode_per_item(self, fmt: str, content: bytes, *, profile: str | None = None,
                              classes: RuleClasses | None = None) -> registry.PerItem:
        """``registry.decode_per_item``, in a worker process for a large ``content``."""
        if not self._offloaded(len(content)):
            return registry.decode_per_item(fmt, content, profile=profile, classes=classes)
        document_type, canonical, problems, items = await self._run(decode_checked, fmt, bytes(content), profile,
                                                                    classes)
        msg = await asyncio.to_thread(registry.DOCUMENT_TYPES[document_type].FromString, canonical)
        return registry.PerItem(document_type, msg, problems, items)

    async def encode(self, fmt: str, document_type: str, msg: Message, payload: bytes) -> bytes:
        """``registry.encode`` of ``msg``, whose canonical bytes are ``payload``; large ones in a worker."""
        if not self._offloaded(len(payload)) or fmt == document_type:
            # The protobuf form is one C call, cheaper than shipping the bytes to another process.
            return registry.encode(fmt, document_type, msg)
        return await self._run(encode_from_canonical, fmt, document_type, bytes(payload))

    async def to_thread(self, size: int, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a thread when it works on a document of ``size`` bytes that would be offloaded,
        else inline: pure-Python work on a large document (routing, KPI facts) then shares the loop's time
        at the interpreter's switch interval instead of holding it for seconds."""
        if size >= self.offload_bytes:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)
