"""Typed errors of the adapters. Every decoder raises only these, whatever bytes it is given."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One problem in a document: ``path`` is an XPath or JSON pointer into the input, or a field path."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class AdapterError(Exception):
    """Base of the adapters' errors."""


class UnknownFormat(AdapterError):
    def __init__(self, fmt: str, known: list[str]):
        super().__init__(f"unknown format {fmt!r}; known formats: {', '.join(known)}")
        self.format = fmt
        self.known = known

    def __reduce__(self) -> tuple[type[UnknownFormat], tuple[str, list[str]]]:
        # Raised in a worker process (gateway.codec), it is pickled back: by its arguments, not its message.
        return type(self), (self.format, self.known)


class DocumentError(AdapterError):
    """The document cannot be decoded, or decodes to invalid data. Carries every violation found."""

    def __init__(self, violations: list[Violation] | tuple[Violation, ...], summary: str = "invalid document"):
        self.violations = tuple(violations)
        self.summary = summary
        super().__init__(summary + ": " + "; ".join(str(v) for v in self.violations))

    def __reduce__(self) -> tuple[type[DocumentError], tuple[tuple[Violation, ...], str]]:
        return type(self), (self.violations, self.summary)


class UnsupportedConversion(AdapterError):
    """The format cannot carry this document type (e.g. an inspection result as upu.itmatt.v1)."""
