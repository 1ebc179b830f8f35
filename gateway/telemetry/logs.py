"""Structured JSON logs of a node process (structlog to stderr), set up once at start.

Its own small module so that a supervisor can set up logging without importing the whole node.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog


def _add_worker(worker: int) -> Any:
    pid = os.getpid()

    def add(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event["worker"] = worker
        event["pid"] = pid
        return event
    return add


FORMATS = ("console", "json")


def configure_logging(level: str = "info", worker: int | None = None, fmt: str = "json") -> None:
    """JSON lines for services and log shippers; ``console`` for a person at a terminal (``make run``)."""
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) if fmt == "console"
                     else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *([_add_worker(worker)] if worker is not None else []),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *([] if fmt == "console" else [structlog.processors.dict_tracebacks]),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
