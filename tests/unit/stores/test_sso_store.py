"""One login's storage on SQLite and PostgreSQL: the migration, sealing, codes used once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from civicstack.errors import CivicError
from civicstack.pairwise import Subject
from civicstack.platform import Platform
from civicstack.sso import AccessGrant, CodeGrant, SsoSession
from civicstack.stores import db, sso

T = 1_767_225_600
SSO_TABLES = {
    "sso_keys",
    "sso_clients",
    "sso_registration_tokens",
    "sso_logins",
    "sso_sessions",
    "sso_session_clients",
    "sso_codes",
    "sso_tokens",
    "sso_jtis",
}


def _grant() -> CodeGrant:
    return CodeGrant(
        client_id="c1",
        redirect_uri="https://rp.example/cb",
        code_challenge="x" * 43,
        nonce="n",
        scope=("openid",),
        sub="s" * 43,
        sid="sid",
        auth_time=T,
        claims={"given_name": "Amara"},
        expires_at=T + 60,
    )


def _access(grant: CodeGrant) -> AccessGrant:
    return AccessGrant(grant.client_id, grant.sub, grant.scope, grant.claims, T + 600)


def test_migration_matches_the_tables(platform: Platform) -> None:
    """The sso branch creates exactly the tables, columns and constraints the store uses."""
    assert sso.sso_codes.metadata is db.metadata
    with platform.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in SSO_TABLES)] == []
    assert set(sa.inspect(platform.engine).get_table_names()) >= SSO_TABLES


def test_what_names_the_citizen_is_sealed(platform: Platform) -> None:
    """A session's subject and claims, and a code's grant, are not readable in the tables."""
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
    store.add_code("c" * 64, _grant(), now=T)
    with platform.engine.connect() as conn:
        rows = [
            *conn.execute(sa.text("SELECT sealed FROM sso_sessions")),
            *conn.execute(sa.text("SELECT sealed FROM sso_codes")),
        ]
    assert rows
    for (sealed,) in rows:
        assert "QQ123456C" not in sealed
        assert "Amara" not in sealed
    assert store.session("h" * 64) == session


def test_a_code_is_redeemed_once_under_concurrency(platform: Platform) -> None:
    """Eight redemptions of one code raced: exactly one first use, and one token kept."""
    store = platform.sso_store
    store.add_code("c" * 64, _grant(), now=T)
    tokens = iter(f"{i:064d}" for i in range(100))

    def redeem(_: int) -> bool:
        result = store.redeem_code(
            "c" * 64, now=T, issue=lambda grant: (next(tokens), _access(grant))
        )
        assert result is not None
        return result[1]

    with ThreadPoolExecutor(8) as pool:
        firsts = list(pool.map(redeem, range(8)))
    assert firsts.count(True) == 1
    with platform.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sso_tokens")).scalar() == 1


def test_a_refused_redemption_writes_nothing(platform: Platform) -> None:
    """When the decision raises, the code stays unused and no token is kept."""
    store = platform.sso_store
    store.add_code("c" * 64, _grant(), now=T)

    def refuse(_: CodeGrant) -> tuple[str, AccessGrant]:
        raise CivicError("invalid_grant", "no")

    with pytest.raises(CivicError):
        store.redeem_code("c" * 64, now=T, issue=refuse)
    result = store.redeem_code("c" * 64, now=T, issue=lambda g: ("t" * 64, _access(g)))
    assert result is not None
    assert result[1] is True
    assert store.access_token("t" * 64, now=T) == _access(_grant())
    assert store.revoke_tokens_of_code("c" * 64, now=T) == 1
    assert store.access_token("t" * 64, now=T) is None


def test_a_jti_is_remembered_once(platform: Platform) -> None:
    """A client assertion's jti is refused the second time."""
    platform.sso_store.remember_jti("c1", "j1", until=T + 60, now=T)
    with pytest.raises(CivicError, match="replayed"):
        platform.sso_store.remember_jti("c1", "j1", until=T + 60, now=T)
    platform.sso_store.remember_jti("c2", "j1", until=T + 60, now=T)
