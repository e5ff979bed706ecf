"""Fixtures for the matching tests."""

from __future__ import annotations

from tests.matching.matching_helpers import engine  # noqa: F401  (re-exported as a fixture)
