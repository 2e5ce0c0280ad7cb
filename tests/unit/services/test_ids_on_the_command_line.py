"""Regression: ids a citizen types on a command line never start with "-" (one in 64 did, and
`civic wallet consent give ID` took the id for an option)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from civicstack.services.changes import service as changes
from civicstack.services.consent import service as consent


@pytest.mark.parametrize("module", [changes, consent])
def test_an_id_drawn_with_a_leading_dash_is_drawn_again(
    module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The random source's leading-dash draws are skipped."""
    draws: Iterator[str] = iter(["-first", "--second", "third-one"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(draws))
    assert module._random_id() == "third-one"  # type: ignore[attr-defined]
