"""A throwaway PostgreSQL server for the test suite, started from the local binaries.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster is created and run as an
unprivileged user (``postgres`` when it exists, else ``nobody``) through ``runuser``. Durability is
switched off (fsync, synchronous_commit): a test server dies with the session anyway.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from gateway.testing.nodes import free_port


def pg_bin_dir() -> Path:
    """Where pg_ctl lives: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not candidates:
        raise RuntimeError("PostgreSQL binaries not found (pg_ctl): install postgresql (.ci/run does) "
                           "or put pg_ctl on PATH")
    return Path(candidates[-1]).parent


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither user 'postgres' nor 'nobody' exists to run PostgreSQL")


class PostgresServer:
    """initdb + pg_ctl start in a temp dir, on a free loopback port, trust authentication."""

    def __init__(self) -> None:
        self.bin = pg_bin_dir()
        self.user = _run_as()
        self.base = Path(tempfile.mkdtemp(prefix="swg-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync",
                 "--locale=C")
        self.start()

    def start(self) -> None:
        opts = (f"-h 127.0.0.1 -p {self.port} -k {self.base} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-o", opts, "-w", "-t", "60",
                 "start")

    def crash(self) -> None:
        """Stop the server as a crash would (``-m immediate``), keeping its data for ``start``."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _pg(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.base)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def create_database(self, prefix: str = "swg") -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{next(self._names)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():  # not already crashed by the test
                self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
