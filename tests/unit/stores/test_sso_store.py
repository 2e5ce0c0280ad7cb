"""One login's storage on SQLite and PostgreSQL: the migration, sealing, codes redeemed once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from civicstack.errors import CivicError
from civicstack.pairwise import Subject
from civicstack.platform import Platform
from civicstack.sso import AccessGrant, Redemption, SsoSession
from civicstack.stores import db, sso

T = 1_767_225_600
SSO_TABLES = {
    "sso_keys",
    "sso_clients",
    "sso_registration_tokens",
    "sso_logins",
    "sso_sessions",
    "sso_session_clients",
    "sso_tokens",
    "sso_jtis",
}


def _redemption(code: str, token: str) -> Redemption:
    access = AccessGrant("c1", "s" * 43, ("openid",), {"given_name": "Amara"}, T + 600)
    return Redemption(code * 64, token * 64, access)


def test_migration_matches_the_tables(platform: Platform) -> None:
    """The sso branch creates exactly the tables, columns and constraints the store uses."""
    assert sso.sso_tokens.metadata is db.metadata
    with platform.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in SSO_TABLES)] == []
    tables = set(sa.inspect(platform.engine).get_table_names())
    assert tables >= SSO_TABLES
    assert "sso_codes" not in tables  # codes are sealed, not stored (sso_0002)


def test_what_names_the_citizen_is_sealed(platform: Platform) -> None:
    """A session's subject and claims, and a token's grant, are not readable in the tables."""
    store = platform.sso_store
    session = SsoSession(
        id="h" * 64,
        sid="sid",
        handle="p" * 43,
        subject=Subject("GB", "QQ123456C"),
        claims={"given_name": "Amara"},
        auth_time=T,
        expires_at=T + 3600,
    )
    store.add_session(session, now=T)
    assert store.redeem_many([_redemption("c", "t")]) == {"c" * 64}
    with platform.engine.connect() as conn:
        rows = [
            *conn.execute(sa.text("SELECT sealed FROM sso_sessions")),
            *conn.execute(sa.text("SELECT sealed FROM sso_tokens")),
        ]
    assert len(rows) == 2
    for (sealed,) in rows:
        assert "QQ123456C" not in sealed
        assert "Amara" not in sealed
    assert store.session("h" * 64) == session
    assert store.access_token("t" * 64, now=T) == _redemption("c", "t").access


def test_a_code_is_redeemed_once_under_concurrency(platform: Platform) -> None:
    """Eight redemptions of one code raced, each with its own token: exactly one is the
    first, and only its token is kept."""
    store = platform.sso_store

    def redeem(i: int) -> bool:
        return store.redeem_many([_redemption("c", str(i))]) == {"c" * 64}

    with ThreadPoolExecutor(8) as pool:
        firsts = list(pool.map(redeem, range(8)))
    assert firsts.count(True) == 1
    first = str(firsts.index(True))
    assert store.access_token(first * 64, now=T) is not None
    with platform.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sso_tokens")).scalar() == 1


def test_a_batch_redeems_each_code_once(platform: Platform) -> None:
    """In one batch a code listed twice is redeemed by its first listing; a code redeemed
    before is not redeemed again; revoking a code's tokens ends the first one's."""
    store = platform.sso_store
    assert not store.redeemed("a" * 64)
    assert store.redeem_many([_redemption("a", "1")]) == {"a" * 64}
    batch = [_redemption("b", "2"), _redemption("a", "3"), _redemption("b", "4")]
    assert store.redeem_many(batch) == {"b" * 64}
    assert store.redeemed("a" * 64)
    assert store.redeemed("b" * 64)
    assert store.access_token("2" * 64, now=T) is not None
    assert store.access_token("3" * 64, now=T) is None
    assert store.access_token("4" * 64, now=T) is None
    assert store.revoke_tokens_of_code("b" * 64, now=T) == 1
    assert store.access_token("2" * 64, now=T) is None
    assert store.redeemed("b" * 64)  # a revoked token still records the redemption


def test_a_jti_is_remembered_once(platform: Platform) -> None:
    """A client assertion's jti is refused the second time."""
    platform.sso_store.remember_jti("c1", "j1", until=T + 60, now=T)
    with pytest.raises(CivicError, match="replayed"):
        platform.sso_store.remember_jti("c1", "j1", until=T + 60, now=T)
    platform.sso_store.remember_jti("c2", "j1", until=T + 60, now=T)
