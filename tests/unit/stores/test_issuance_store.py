"""The issuer's state on SQLite and PostgreSQL: hashed secrets, sealed claims, single use."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from civicstack._crypto import PrivateKey
from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.openid4vci import create_key_proof
from civicstack.openid4vci.offers import PRE_AUTHORIZED_GRANT, digest
from civicstack.openid4vci.tokens import MAX_TX_FAILURES
from civicstack.platform import Platform
from civicstack.services import review
from civicstack.services.issuer import CreatedOffer
from civicstack.stores import applications, db, issuance
from civicstack.stores.documents import DocumentStore
from civicstack.testing import FixedClock
from tests.unit.stores.conftest import build_world

OUR_TABLES = {
    "issuance_offers",
    "issuance_tokens",
    "issuance_nonces",
    "issuance_applications",
    "issuance_documents",
    "issuance_deferred",
    "issuance_submission_buckets",
}
AMARA = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "issuing_country": "GB",
}


@pytest.fixture
def world(platform: Platform) -> Platform:
    """The platform with its authorities accredited."""
    build_world(platform)
    return platform


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as caught:
        fn()
    return caught.value.code


def _offer(platform: Platform, **options: Any) -> CreatedOffer:
    return platform.issuer.create_offer("passport-office", vct=PID_VCT, claims=AMARA, **options)


def _redeem(platform: Platform, created: CreatedOffer, tx_code: str | None = None) -> str:
    form = {
        "grant_type": PRE_AUTHORIZED_GRANT,
        "pre-authorized_code": created.offer.pre_authorized_code or "",
    }
    code = tx_code if tx_code is not None else created.tx_code
    if code is not None:
        form["tx_code"] = code
    return str(platform.issuer.token("passport-office", form)["access_token"])


def _credential_body(platform: Platform, key: PrivateKey) -> bytes:
    nonce = platform.issuer.nonce("passport-office")
    identifier = platform.issuer.issuer("passport-office").identifier
    proof = create_key_proof(key, audience=identifier, nonce=nonce, now=platform.clock.now())
    return b'{"credential_configuration_id":"%s","proofs":{"jwt":["%s"]}}' % (
        PID_VCT.encode(),
        proof.encode(),
    )


def _all_at_once(n: int, fn: Callable[[], object]) -> tuple[list[object], list[str]]:
    """Run ``fn`` in ``n`` threads released together; the results and error codes."""
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            value = fn()
        except CivicError as exc:
            with lock:
                errors.append(exc.code)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_migration_matches_the_tables(platform: Platform) -> None:
    """The issuance branch creates exactly the tables and constraints the code uses."""
    assert issuance.issuance_offers_table.metadata is db.metadata
    with platform.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in OUR_TABLES)] == []
    assert set(sa.inspect(platform.engine).get_table_names()) >= OUR_TABLES


def test_secrets_are_stored_hashed_and_claims_sealed(world: Platform) -> None:
    """Neither the pre-authorized code, the tx code nor any claim value is in the database."""
    created = _offer(world, by_reference=True)
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(issuance.issuance_offers_table)).one()
    dumped = repr(tuple(row))
    assert created.offer.pre_authorized_code not in dumped
    assert created.tx_code is not None
    assert row.tx_code_hash != created.tx_code
    assert len(row.tx_code_hash) == 64
    assert b"Amara" not in bytes(row.claims)
    assert b"pre-authorized_code" not in bytes(row.document)
    assert world.issuer.offer_document("passport-office", created.record.id) == (
        created.offer.to_json()
    )


def test_a_code_is_redeemed_once(world: Platform) -> None:
    """The second redemption of a pre-authorized code is invalid_grant, and the offer by
    reference is gone once redeemed."""
    created = _offer(world, by_reference=True)
    _redeem(world, created)
    assert _code(lambda: _redeem(world, created)) == "invalid_grant"
    assert _code(lambda: world.issuer.offer_document("passport-office", created.record.id)) == (
        "not_found"
    )
    assert world.issuance.offer("passport-office", created.record.id).state == "redeemed"


def test_tx_code_must_match_and_the_offer_locks_after_five_misses(world: Platform) -> None:
    """Wrong transaction codes are counted; after five, even the right one is refused."""
    created = _offer(world)
    assert created.tx_code is not None
    wrong = "000000" if created.tx_code != "000000" else "111111"
    for _ in range(MAX_TX_FAILURES):
        assert _code(lambda: _redeem(world, created, wrong)) == "invalid_grant"
    assert world.issuance.offer("passport-office", created.record.id).state == "locked"
    assert _code(lambda: _redeem(world, created)) == "invalid_grant"


def test_tx_code_presence_must_match_the_offer(world: Platform) -> None:
    """A missing tx_code, or one the offer never asked for, is invalid_request (§6.3)."""
    with_code = _offer(world)
    without = _offer(world, tx_code=False)
    form = {
        "grant_type": PRE_AUTHORIZED_GRANT,
        "pre-authorized_code": with_code.offer.pre_authorized_code or "",
    }
    assert _code(lambda: world.issuer.token("passport-office", form)) == "invalid_request"
    assert _code(lambda: _redeem(world, without, "123456")) == "invalid_request"
    _redeem(world, without)


def test_expired_codes_are_refused(world: Platform, clock: FixedClock) -> None:
    """After its lifetime a pre-authorized code is worth nothing."""
    created = _offer(world, expires_in=60)
    clock.advance(61)
    assert _code(lambda: _redeem(world, created)) == "invalid_grant"


def test_expired_tokens_are_refused(world: Platform, clock: FixedClock) -> None:
    """An access token older than five minutes is invalid_token."""
    token = _redeem(world, _offer(world))
    body = _credential_body(world, PrivateKey.generate())
    clock.advance(301)
    assert _code(lambda: world.issuer.credential("passport-office", token, body)) == (
        "invalid_token"
    )


def test_expired_nonces_are_refused(world: Platform, clock: FixedClock) -> None:
    """A c_nonce older than five minutes is invalid_nonce, even in a fresh proof."""
    nonce = world.issuer.nonce("passport-office")
    clock.advance(301)
    token = _redeem(world, _offer(world))
    identifier = world.issuer.issuer("passport-office").identifier
    proof = create_key_proof(
        PrivateKey.generate(), audience=identifier, nonce=nonce, now=clock.now()
    )
    body = b'{"credential_configuration_id":"%s","proofs":{"jwt":["%s"]}}' % (
        PID_VCT.encode(),
        proof.encode(),
    )
    assert _code(lambda: world.issuer.credential("passport-office", token, body)) == (
        "invalid_nonce"
    )


def test_concurrent_redemptions_give_exactly_one_token(world: Platform) -> None:
    """Eight simultaneous redemptions of one code: one token, seven invalid_grant."""
    created = _offer(world)
    results, errors = _all_at_once(8, lambda: _redeem(world, created))
    assert len(results) == 1
    assert errors == ["invalid_grant"] * 7


def test_concurrent_credential_requests_issue_exactly_once(world: Platform) -> None:
    """One token and one nonce spent by six requests at once: one credential."""
    token = _redeem(world, _offer(world))
    body = _credential_body(world, PrivateKey.generate())
    results, errors = _all_at_once(
        6, lambda: world.issuer.credential("passport-office", token, body)
    )
    assert len(results) == 1
    assert set(errors) <= {"invalid_nonce", "invalid_token"}
    assert len(errors) == 5
    assert len(world.authorities.credentials("passport-office")) == 1


def test_issuing_erases_the_offers_claims_and_records_the_credentials(world: Platform) -> None:
    """Once issued, the offer keeps the credential ids and no claims."""
    created = _offer(world)
    token = _redeem(world, created)
    response = world.issuer.credential(
        "passport-office", token, _credential_body(world, PrivateKey.generate())
    )
    assert response.status == 200
    record = world.issuance.offer("passport-office", created.record.id)
    assert record.state == "issued"
    (credential_id,) = record.credential_ids
    assert world.authorities.credential(credential_id).authority == "passport-office"
    with world.engine.connect() as conn:
        claims = conn.execute(
            sa.select(issuance.issuance_offers_table.c.claims).where(
                issuance.issuance_offers_table.c.id == created.record.id
            )
        ).scalar_one()
    assert claims is None


def test_a_failed_issuance_spends_nothing(world: Platform) -> None:
    """If signing fails (the accreditation was revoked), token and nonce stay unspent and no
    status entry is used: the whole request rolls back."""
    token = _redeem(world, _offer(world))
    body = _credential_body(world, PrivateKey.generate())
    world.authorities.revoke_accreditation("passport-office")
    assert _code(lambda: world.issuer.credential("passport-office", token, body)) == (
        "credential_request_denied"
    )
    assert world.authorities.credentials("passport-office") == ()
    grant = world.issuance.token("passport-office", digest(token), now=world.clock.now())
    assert grant.offer.state == "redeemed"


def test_an_application_is_decided_once(world: Platform) -> None:
    """Approving twice, or rejecting an approved application, is a conflict."""
    application, created = world.review.apply(
        "passport-office", vct=PID_VCT, claims=AMARA, documents=[b"%PDF-1.4 scan"]
    )
    assert created is not None
    assert application.status == "pending"
    world.review.approve("passport-office", application.id, reviewer="Officer Jones")
    assert _code(lambda: world.review.approve("passport-office", application.id, reviewer="x")) == (
        "conflict"
    )
    assert _code(
        lambda: world.review.reject("passport-office", application.id, reviewer="x", reason="no")
    ) == ("conflict")
    stored = world.review.application("passport-office", application.id)
    assert stored.status == "approved"
    assert stored.reviewer == "Officer Jones"
    assert stored.claims == AMARA
    with world.engine.connect() as conn:
        sealed = conn.execute(
            sa.select(applications.issuance_applications_table.c.claims)
        ).scalar_one()
    assert b"Okafor" not in bytes(sealed)


def _age(path: Path, seconds_before: int, clock: FixedClock) -> None:
    """Set a file's modification time to ``seconds_before`` the test clock's now."""
    then = clock.now() - seconds_before
    os.utime(path, (then, then))


def test_a_sweep_deletes_only_old_documents_no_application_refers_to(
    world: Platform, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submission whose commit fails leaves its stored document behind; the sweep deletes
    it (and an abandoned temporary file) once past the grace period, and nothing else."""
    desk, documents = world.review, world.documents
    kept, _ = desk.apply("passport-office", vct=PID_VCT, claims=AMARA, documents=[b"%PDF-1.4 a"])

    def database_down(*args: Any, **kwargs: Any) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database down"))

    with monkeypatch.context() as patch:
        patch.setattr(desk.store, "create_application", database_down)
        with pytest.raises(sa.exc.OperationalError):
            desk.apply("passport-office", vct=PID_VCT, claims=AMARA, documents=[b"%PDF-1.4 b"])
    orphan = documents.put(b"%PDF-1.4 b")  # already there: the failed submission stored it
    young = documents.put(b"%PDF-1.4 young orphan")
    paths = {sha: documents.root / "sha256" / sha[:2] / sha for sha in (orphan, young)}
    referenced = kept.documents[0].sha256
    temporary = paths[orphan].with_name(f".{orphan}.1.abc.tmp")
    temporary.write_bytes(b"%PDF-1.4 half")
    for path in (paths[orphan], temporary, documents.root / "sha256" / referenced[:2] / referenced):
        _age(path, review.ORPHAN_GRACE + 60, clock)
    _age(paths[young], review.ORPHAN_GRACE - 60, clock)

    assert desk.sweep_documents() == 2
    assert not paths[orphan].exists()
    assert not temporary.exists()
    assert paths[young].exists()
    assert desk.document("passport-office", kept.id, referenced) == (
        b"%PDF-1.4 a",
        "application/pdf",
    )
    assert desk.sweep_documents() == 0
    assert documents.put(b"%PDF-1.4 b") == orphan  # stored again after the sweep
    assert documents.get(orphan) == b"%PDF-1.4 b"


def test_storing_known_bytes_refreshes_the_file_so_a_sweep_spares_it(
    world: Platform, clock: FixedClock
) -> None:
    """A document reused by a submission in flight is young again when the sweep looks."""
    documents = world.documents
    sha = documents.put(b"%PDF-1.4 shared scan")
    path = documents.root / "sha256" / sha[:2] / sha
    _age(path, review.ORPHAN_GRACE + 60, clock)
    documents.put(b"%PDF-1.4 shared scan")
    assert path.stat().st_mtime > clock.now() - review.ORPHAN_GRACE
    assert documents.sweep(set(), older_than=clock.now() - review.ORPHAN_GRACE) == 0
    assert path.exists()


def test_a_sweep_of_an_empty_store_deletes_nothing(tmp_path: Path) -> None:
    assert DocumentStore(tmp_path / "none", max_bytes=10).sweep(set(), older_than=2e9) == 0
