"""Helpers shared by unit and integration tests (import as ``tests.support``)."""
