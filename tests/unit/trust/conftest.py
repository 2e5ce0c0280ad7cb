"""Fixtures for the trust tests."""

from __future__ import annotations

import pytest

from civicstack.testing import World


@pytest.fixture
def world() -> World:
    """A fresh trust world with only the root."""
    return World()
