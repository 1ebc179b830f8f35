"""Hot reload of the signed federation directory.

The node polls the directory file and its signature (mtime and size). A changed pair is read once,
verified (CA signature over those bytes, certificate pins, the node and its participants still where the
config says) and must carry a higher ``[federation] version``; only then does it replace the running
directory, in one step on the event loop. Anything else is refused: the running directory stays, the
refusal is logged and audited, and the same files are not retried until they change again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from pathlib import Path

import structlog

from gateway.clock import now_us
from gateway.config import NodeConfig
from gateway.errors import ConfigError
from gateway.federation.load import fit
from gateway.federation.model import Directory
from gateway.federation.signature import read_signed_directory, signature_path
from gateway.federation.view import DirectoryView
from gateway.store import Store, audit_log as audit


class Reloadable(Protocol):
    """What the watcher needs of a node (the node itself sits above federation and is not imported)."""

    config: NodeConfig
    store: Store

    @property
    def name(self) -> str: ...

    @property
    def directory(self) -> Directory: ...

    def swap_view(self, view: DirectoryView) -> None: ...

log = structlog.get_logger("gateway.directory")


@dataclass(frozen=True)
class Outcome:
    changed: bool
    old_version: int
    new_version: int
    sha256: str
    reason: str = ""


def _stamp(paths: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((-1, -1))
    return tuple(out)


class DirectoryWatcher:
    def __init__(self, node: Reloadable, on_swap: Callable[[], Awaitable[None]], record: bool = True):
        self.node = node
        self.on_swap = on_swap
        # False in all but one worker process of a node: every worker swaps, one audits the swap.
        self.record = record
        cfg = node.config
        self._paths = (cfg.directory, cfg.directory_signature or signature_path(cfg.directory))
        self._seen = _stamp(self._paths)
        self._pending = self._seen

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.node.config.directory_poll_s)
            await self.check()

    async def check(self) -> Outcome | None:
        """Look once; None when the files have not changed since the last look."""
        stamp = await asyncio.to_thread(_stamp, self._paths)
        if stamp == self._seen:
            return None
        if stamp != self._pending:
            # The directory and its signature are two files written one after the other: act on a change
            # only once it has held for a whole poll, so a half-written pair is not refused (and audited).
            self._pending = stamp
            return None
        self._seen = stamp
        node = self.node
        old = node.directory
        try:
            new = await asyncio.to_thread(self._load)
        except ConfigError as exc:
            return await self._refuse(old, None, "; ".join(str(p) for p in exc.problems))
        if new.version <= old.version:
            return await self._refuse(old, new, f"version {new.version} is not newer than the running {old.version}")
        # One synchronous step on the loop: no call sees a new directory with an old router or stale certs.
        node.swap_view(DirectoryView.of(new, node.store))
        await self._audit(audit.DIRECTORY_CHANGED, old, new, "")
        log.warning("directory changed", old_version=old.version, new_version=new.version, sha256=new.sha256)
        await self.on_swap()
        return Outcome(True, old.version, new.version, new.sha256)

    def _load(self) -> Directory:
        cfg = self.node.config
        directory = read_signed_directory(cfg)
        problems = fit(cfg, directory)
        if problems:
            raise ConfigError(problems)
        if self.node.directory.signature and not directory.signature:
            # allow_unsigned_directory lets a node start unsigned; it never lets a signed one go unsigned.
            raise ConfigError([])
        return directory

    async def _refuse(self, old: Directory, new: Directory | None, reason: str) -> Outcome:
        reason = reason or "a signed directory cannot be replaced by an unsigned one"
        log.error("new directory refused; keeping the running one", running_version=old.version, reason=reason)
        await self._audit(audit.DIRECTORY_REFUSED, old, new, reason)
        return Outcome(False, old.version, new.version if new else 0, new.sha256 if new else "", reason)

    async def _audit(self, event: str, old: Directory, new: Directory | None, refused: str) -> None:
        if not self.record:
            return
        detail: dict[str, object] = {"old_version": old.version, "old_sha256": old.sha256,
                                     "new_version": new.version if new else 0, "new_sha256": new.sha256 if new else ""}
        if refused:
            detail["refused"] = refused[:500]
        store = self.node.store
        entry = audit.AuditEvent(event, actor=self.node.name, subject="directory", detail=detail)
        await store.append_audit([entry], now_us())
