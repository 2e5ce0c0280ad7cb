"""Hosted authorities, wrapped keys and trust statements, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from civicstack._crypto import PrivateKey, b64url_encode
from civicstack.credential_types import PID, PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.stores import db, status_lists
from civicstack.stores.authorities import authority_keys_table
from civicstack.stores.trust import trust_statements_table
from civicstack.testing import FixedClock
from civicstack.trust import Accreditation, Purpose, RelyingPartyRegistration
from tests.unit.stores.conftest import BASE, MASTER_KEY, build_world, make_platform

OUR_TABLES = {
    "authorities",
    "authority_keys",
    "trust_statements",
    "trust_state",
    "status_lists",
    "issued_credentials",
}


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def test_migration_matches_the_tables(platform: Platform) -> None:
    """The Alembic branch creates exactly the tables, columns and constraints the code uses."""
    assert status_lists.status_lists_table.metadata is db.metadata
    with platform.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
    ours = [d for d in diffs if any(t in repr(d) for t in OUR_TABLES)]
    assert ours == []
    assert set(sa.inspect(platform.engine).get_table_names()) >= OUR_TABLES


def test_root_is_created_once_with_its_key(platform: Platform) -> None:
    """The root gets a {base}/trust/{name} identifier and one active key named by thumbprint;
    a second root is a conflict."""
    root = platform.authorities.init_root("root", "HM Government")
    assert root.identifier == f"{BASE}/trust/root"
    assert root.role == "root"
    (key,) = root.keys
    assert key.active
    assert key.alg == "EdDSA"
    assert key.kid == key.public_key.thumbprint()
    assert _code(lambda: platform.authorities.init_root("gov", "Another")) == "conflict"
    anchors = platform.trust.roots()
    assert [r.id for r in anchors] == [root.identifier]
    assert anchors[0].keys.thumbprints() == {key.kid}


def test_names_and_identifiers_are_unique(platform: Platform) -> None:
    """A taken name or identifier is a conflict; a bad slug is refused before any write."""
    a = platform.authorities
    a.create("office", "Office")
    assert _code(lambda: a.create("office", "Again")) == "conflict"
    assert _code(lambda: a.create("other", "Other", identifier=f"{BASE}/issuers/office")) == (
        "conflict"
    )
    assert _code(lambda: a.create("Bad Name", "x")) == "invalid_request"
    assert _code(lambda: a.create("ok", "\x00bad")) == "invalid_request"
    assert _code(lambda: a.get("nobody")) == "unknown_authority"
    assert [h.name for h in a.list()] == ["office"]


def test_private_keys_are_wrapped_at_rest(platform: Platform) -> None:
    """The database holds no private key in clear; the key unwraps to the active public key."""
    hosted = platform.authorities.init_root("root", "HM Government")
    with platform.engine.connect() as conn:
        stored = conn.execute(sa.select(authority_keys_table.c.private_key)).scalar_one()
    _, key = platform.authority_store.signing_key("root")
    assert key.public_key.thumbprint() == hosted.active_key.kid
    assert b64url_encode(key._private_bytes()) not in stored
    assert '"kind":"wrapped-key"' in stored


def test_another_master_key_cannot_unwrap(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """A platform started with another CIVIC_MASTER_KEY refuses to sign: decryption_failed."""
    first = make_platform(database_url, tmp_path / "a", clock, CIVIC_MASTER_KEY=MASTER_KEY)
    first.authorities.init_root("root", "HM Government")
    other = make_platform(database_url, tmp_path / "b", clock)
    assert _code(lambda: other.authority_store.signing_key("root")) == "decryption_failed"
    first.close()
    other.close()


def test_accreditation_and_new_authority_commit_together(platform: Platform) -> None:
    """Accrediting a new name creates it; a refused accreditation leaves no authority behind."""
    a = platform.authorities
    a.init_root("root", "HM Government")
    acc = a.accredit("hmpo", scope={PID_VCT: ["given_name"]}, display_name="HMPO")
    assert isinstance(acc, Accreditation)
    assert acc.authority == f"{BASE}/issuers/hmpo"
    assert acc.keys.thumbprints() == {a.get("hmpo").active_key.kid}
    # hmpo may not accredit: its sub-accreditation is refused and "leeds" is not created.
    assert _code(lambda: a.accredit("leeds", by="hmpo", scope={PID_VCT: ["given_name"]})) == (
        "out_of_scope"
    )
    assert _code(lambda: a.get("leeds")) == "unknown_authority"


def test_sub_accreditation_stays_within_and_ends_with_its_parent(
    platform: Platform, clock: FixedClock
) -> None:
    """An accreditor's sub-accreditation cannot outlast it, and cannot exceed its scope."""
    a = platform.authorities
    a.init_root("root", "HM Government")
    parent = a.accredit(
        "hmpo", scope={PID_VCT: ["given_name", "family_name"]}, may_accredit=True, valid_days=30
    )
    child = a.accredit("leeds", by="hmpo", scope={PID_VCT: ["given_name"]}, valid_days=365)
    assert child.exp == parent.exp
    assert child.accreditor == parent.authority
    assert _code(lambda: a.accredit("york", by="hmpo", scope={PID_VCT: ["birthdate"]})) == (
        "out_of_scope"
    )
    platform.trust_registry().valid_accreditations(child.authority, clock.now())


def test_registration_of_a_relying_party(platform: Platform, clock: FixedClock) -> None:
    """A registered relying party gets a /verifiers/ identifier and a key; the registry
    allows its purpose and refuses overasking."""
    build_world(platform)
    shop = platform.authorities.get("shop")
    assert shop.role == "relying_party"
    assert shop.identifier == f"{BASE}/verifiers/shop"
    registry = platform.trust_registry()
    reg = registry.check_request(shop.identifier, "age_check", {PID_VCT: ["age_over_18"]}, clock.t)
    assert isinstance(reg, RelyingPartyRegistration)
    assert registry.relying_party_key(shop.identifier, None, clock.t) == (
        shop.active_key.public_key
    )
    with pytest.raises(CivicError) as err:
        registry.check_request(shop.identifier, "age_check", {PID_VCT: ["birthdate"]}, clock.t)
    assert err.value.code == "overasking"
    # An authority's name cannot be registered as a relying party, nor the reverse.
    purpose = Purpose.create("p", "d", {PID_VCT: ["given_name"]})
    assert _code(
        lambda: platform.authorities.register("hmpo-x", purposes=[purpose], by="shop")
    ) == ("invalid_request")
    assert (
        _code(lambda: platform.authorities.register("passport-office", purposes=[purpose]))
        == "invalid_request"
    )


def test_suspension_and_reinstatement(platform: Platform, clock: FixedClock) -> None:
    """A suspended relying party is refused; reinstated, it is allowed again."""
    build_world(platform)
    shop = platform.authorities.get("shop").identifier
    platform.authorities.suspend("shop", reason="sold to minors")
    with pytest.raises(CivicError) as err:
        platform.trust_registry().check_request(
            shop, "age_check", {PID_VCT: ["age_over_18"]}, clock.t
        )
    assert err.value.code == "relying_party_suspended"
    clock.advance(1)
    platform.authorities.suspend("shop", suspended=False)
    platform.trust_registry().check_request(shop, "age_check", {PID_VCT: ["age_over_18"]}, clock.t)
    assert _code(lambda: platform.authorities.suspend("passport-office")) == "invalid_request"


def test_revoking_an_accreditation(platform: Platform, clock: FixedClock) -> None:
    """After revocation the authority no longer resolves, and there is nothing left to revoke."""
    build_world(platform)
    ident = platform.authorities.get("passport-office").identifier
    (revocation,) = platform.authorities.revoke_accreditation("passport-office", reason="closed")
    assert revocation.authority == ident
    assert _code(lambda: platform.trust_registry().valid_accreditations(ident, clock.t)) == (
        "accreditation_revoked"
    )
    assert _code(lambda: platform.authorities.revoke_accreditation("passport-office")) == (
        "not_found"
    )


def test_registry_needs_a_root(platform: Platform) -> None:
    """Before `civic authority init` there is no registry to trust: no_root_authority."""
    assert _code(platform.trust_registry) == "no_root_authority"
    assert _code(lambda: platform.authorities.accredit("x", scope={PID_VCT: ["a"]})) == (
        "no_root_authority"
    )


def test_other_processes_catch_up(database_url: str, tmp_path: Path, clock: FixedClock) -> None:
    """Two platforms on one database (two workers): each sees the other's statements and root
    key changes on its next call, and a stale registry is never served past a change."""
    one = make_platform(database_url, tmp_path, clock)
    two = make_platform(database_url, tmp_path, clock)
    build_world(one)
    before = two.trust_registry()
    assert len(before.statements()) == 3
    one.authorities.accredit("dvla", scope={PID_VCT: ["given_name"]})
    after = two.trust_registry()
    assert after is before  # caught up incrementally
    assert len(after.statements()) == 4
    assert two.trust_registry(max_age=60) is after
    # A new root key changes the anchors: the registry is rebuilt and re-verifies everything.
    one.authority_store.add_key("root", PrivateKey.generate("EdDSA"), now=clock.now())
    rebuilt = two.trust_registry()
    assert rebuilt is not after
    assert len(rebuilt.statements()) == 4
    assert len(two.trust.roots()[0].keys.keys) == 2
    one.close()
    two.close()


def test_statements_are_stored_in_order_and_once(platform: Platform) -> None:
    """The same statement added twice is stored once; the log re-verifies in a new registry."""
    build_world(platform)
    tokens = platform.trust.tokens()
    assert len(tokens) == 3
    version = platform.trust.version()
    platform.trust.add(tokens[0], now=0)
    assert platform.trust.count() == 3
    assert platform.trust.version() == version
    with platform.engine.connect() as conn:
        typs = conn.execute(
            sa.select(trust_statements_table.c.typ).order_by(trust_statements_table.c.seq)
        ).scalars()
        assert list(typs) == ["accreditation+jwt", "accreditation+jwt", "rp-registration+jwt"]
    export = platform.authorities.export()
    assert export["statements"] == list(tokens)
    assert export["roots"][0]["name"] == "HM Government"


def test_a_forged_statement_is_not_stored(platform: Platform, clock: FixedClock) -> None:
    """A statement signed by a key nobody accredited is refused and leaves no row."""
    from civicstack.trust import Authority, sign_accreditation

    build_world(platform)
    rogue = Authority(platform.authorities.root().identifier, PrivateKey.generate("EdDSA"))
    token = sign_accreditation(
        rogue,
        authority=f"{BASE}/issuers/rogue",
        name="Rogue",
        keys=[PrivateKey.generate().public_key],
        scope={PID_VCT: sorted(PID.claim_names)},
        now=clock.now(),
        exp=clock.now() + 86_400,
    )
    assert _code(lambda: platform.trust.add(token, now=clock.now())) == "invalid_signature"
    assert platform.trust.count() == 3
    # The cached registry was not touched either.
    assert len(platform.trust_registry().statements()) == 3


def test_key_rotation_needs_reaccreditation(platform: Platform) -> None:
    """After a new key, the authority cannot issue until an accreditation lists that key."""
    build_world(platform)
    platform.authority_store.add_key("home-office", PrivateKey.generate(), now=platform.clock.now())
    claims = {
        "given_name": "Amara",
        "family_name": "Okafor",
        "right_to_work": True,
        "share_code": "W4X9KL2PQ",
    }
    assert (
        _code(
            lambda: platform.authorities.issue(
                "home-office", vct=RIGHT_TO_WORK_VCT, claims=claims, holder=None
            )
        )
        == "untrusted_issuer"
    )
    platform.authorities.accredit("home-office", scope={RIGHT_TO_WORK_VCT: sorted(claims)})
    issued = platform.authorities.issue(
        "home-office", vct=RIGHT_TO_WORK_VCT, claims=claims, holder=None
    )
    assert issued.record.state == "valid"
