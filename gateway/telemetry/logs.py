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


def configure_logging(level: str = "info", worker: int | None = None) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *([_add_worker(worker)] if worker is not None else []),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
