"""Shared fixtures: the ../shared data, databases (SQLite and PostgreSQL), a fixed clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicstack.testing import FixedClock

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CIVIC_SHARED_DIR", ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "CIVIC_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skip (outside CI) or fail (in CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing: CI must have ../shared")
        pytest.skip(f"{path} is absent (../shared is not checked out next to the repository)")
    return path


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at 2026-01-01T00:00:00Z."""
    return FixedClock()


def _postgres_database() -> Iterator[str]:
    import sqlalchemy as sa

    from civicstack.stores.db import normalise_url

    admin_url = normalise_url(POSTGRES_URL)
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any driver error means "unreachable" here
        if IN_CI:
            pytest.fail(f"PostgreSQL at {admin_url} is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL at {admin_url} is unreachable: {exc}")
    name = f"civic_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(sa.engine.make_url(admin_url).set(database=name).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'civic.db'}"
    else:
        yield from _postgres_database()
