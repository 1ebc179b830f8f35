"""Participant patterns of the directory: ``*`` stands for one whole component of ``CC/ROLE/CODE``."""

from __future__ import annotations


def matches(pattern: str, participant: str) -> bool:
    """``*`` stands for one whole component of CC/ROLE/CODE."""
    if pattern == "*":
        return True
    pp, ids = pattern.split("/"), participant.split("/")
    return len(pp) == len(ids) and all(p == "*" or p == i for p, i in zip(pp, ids))
