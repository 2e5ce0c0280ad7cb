"""The consent core's pure rules: states over time, withdrawal, the coverage decision, the
signed consent."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack._crypto import PrivateKey, sign_jwt
from civicstack.consent import (
    CATEGORIES,
    CONSENT_TYP,
    ConsentRecord,
    ConsentRequest,
    consent_claims,
    decide_access,
    read_signed,
    record_from_request,
    withdrawn,
)
from civicstack.errors import CivicError

NOW = 1_767_225_600
DAY = 86_400
SUBJECT = "A" * 43
KEY = PrivateKey.generate()


def _request(**change: object) -> ConsentRequest:
    fields: dict[str, object] = {
        "requester": "insurer",
        "provider": "dvla",
        "purpose": "insurance_quote",
        "dpv_purpose": "dpv:EstablishContractualAgreement",
        "categories": ["dpv-pd:VehicleUsage", "dpv-pd:VehicleLicense"],
        "subject": SUBJECT,
        "once": False,
        "valid_days": 30,
        "now": NOW,
    }
    fields.update(change)
    return ConsentRequest.create("r1", **fields)  # type: ignore[arg-type]


def _record(request: ConsentRequest | None = None, decision: str = "given") -> ConsentRecord:
    return record_from_request(
        request or _request(),
        decision,  # type: ignore[arg-type]
        consent_id="c1",
        provider_subject="B" * 43,
        log_subject="C" * 43,
        holder_jwk=KEY.public_key.to_jwk(),
        signature="sig",
        presentation="pres",
        now=NOW,
    )


def _decide(record: ConsentRecord, now: int = NOW, **change: object) -> object:
    access: dict[str, object] = {
        "requester": "insurer",
        "requester_subject": SUBJECT,
        "provider": "dvla",
        "purpose": "insurance_quote",
        "categories": ["dpv-pd:VehicleUsage"],
        "now": now,
    }
    access.update(change)
    return decide_access(record, **access)  # type: ignore[arg-type]


def _code(fn: object) -> str:
    with pytest.raises(CivicError) as err:
        fn()  # type: ignore[operator]
    return err.value.code


def test_a_request_validates_its_fields() -> None:
    """Unknown categories and purposes, duplicates, bad subjects and validity are refused."""
    assert _request().categories == ("dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage")
    assert _code(lambda: _request(categories=["dpv-pd:Nope"])) == "invalid_request"
    assert _code(lambda: _request(categories=[])) == "invalid_request"
    assert _code(lambda: _request(categories="dpv-pd:Tax")) == "invalid_request"
    assert _code(lambda: _request(categories=["dpv-pd:Tax", "dpv-pd:Tax"])) == "invalid_request"
    assert _code(lambda: _request(categories=list(CATEGORIES) * 2)) == "too_large"
    assert _code(lambda: _request(dpv_purpose="dpv:Marketing")) == "invalid_request"
    assert _code(lambda: _request(subject="short")) == "invalid_request"
    assert _code(lambda: _request(valid_days=0)) == "invalid_request"
    assert _code(lambda: _request(valid_days=True)) == "malformed"
    assert _code(lambda: _request(requester="Insurer")) == "invalid_request"


def test_a_request_round_trips_through_its_wire_form() -> None:
    """What a server sends is what a wallet reads back."""
    request = _request(once=True)
    assert ConsentRequest.from_json(request.to_json()) == request
    assert _code(lambda: ConsentRequest.from_json({"id": "x"})) == "malformed"


@given(st.integers(min_value=0, max_value=40 * DAY))
def test_a_given_consent_is_active_exactly_within_its_validity(elapsed: int) -> None:
    """Given until ``valid_until``, expired from then on; and covering only while given."""
    record = _record()
    now = NOW + elapsed
    expected = "given" if elapsed < 30 * DAY else "expired"
    assert record.state_at(now) == expected
    if expected == "given":
        assert _decide(record, now).consent_id == "c1"  # type: ignore[attr-defined]
    else:
        assert _code(lambda: _decide(record, now)) == "consent_not_active"


@given(st.integers(min_value=0, max_value=40 * DAY), st.sampled_from(["given", "refused"]))
def test_withdrawal_is_final_and_only_of_an_active_consent(elapsed: int, decision: str) -> None:
    """Only a given, unexpired consent can be withdrawn; after that it covers nothing."""
    record = _record(decision=decision)
    now = NOW + elapsed
    if record.state_at(now) != "given":
        assert _code(lambda: withdrawn(record, withdrawal="w", now=now)) == "consent_not_active"
        return
    after = withdrawn(record, withdrawal="w", now=now)
    assert (after.version, after.state_at(now + DAY)) == (2, "withdrawn")
    assert _code(lambda: _decide(after, now)) == "consent_not_active"
    assert _code(lambda: withdrawn(after, withdrawal="w", now=now)) == "consent_not_active"


def test_an_answer_needs_an_open_request() -> None:
    """A request past its lifetime cannot be answered."""
    request = _request()
    assert (
        _code(
            lambda: record_from_request(
                request,
                "given",
                consent_id="c",
                provider_subject="B" * 43,
                log_subject="C" * 43,
                holder_jwk={},
                signature="",
                presentation="",
                now=request.expires_at,
            )
        )
        == "consent_request_closed"
    )


@given(st.sets(st.sampled_from(sorted(CATEGORIES)), min_size=1, max_size=5))
def test_coverage_is_the_subset_rule(asked: set[str]) -> None:
    """An access is covered exactly when every category asked is among the consent's."""
    record = _record()
    if asked <= set(record.categories):
        assert set(_decide(record, categories=sorted(asked)).categories) == asked  # type: ignore[attr-defined]
    else:
        assert _code(lambda: _decide(record, categories=sorted(asked))) == "outside_consent"


def test_coverage_refuses_other_parties_and_purposes() -> None:
    """Another requester, subject, provider or purpose is outside the consent, checked before
    its state is revealed; a once consent is used up."""
    refused = _record(decision="refused")
    for change in (
        {"requester": "council"},
        {"requester_subject": "Z" * 43},
        {"provider": "hmrc"},
    ):
        assert _code(lambda c=change: _decide(refused, **c)) == "outside_consent"
    assert _code(lambda: _decide(_record(), purpose="other")) == "outside_consent"
    assert _code(lambda: _decide(_record(), categories=[])) == "outside_consent"
    once = _record(_request(once=True))
    assert _decide(once).once  # type: ignore[attr-defined]
    assert _code(lambda: _decide(replace(once, used_at=NOW))) == "consent_not_active"


def test_the_signed_consent_is_checked_step_by_step() -> None:
    """Typ, key, payload and freshness are each checked."""
    request = _request()
    claims = consent_claims(request, "given", aud="aud", nonce="n", iat=NOW)

    def read(token: object, key: PrivateKey = KEY, now: int = NOW) -> dict[str, object]:
        return read_signed(
            token,
            key.public_key,
            typ=CONSENT_TYP,
            expected=lambda p: consent_claims(request, "given", aud="aud", nonce="n", iat=p["iat"]),
            now=now,
            max_age=300,
            max_bytes=4096,
        )

    good = sign_jwt(KEY, claims, {"typ": CONSENT_TYP})
    assert read(good)["decision"] == "given"
    assert _code(lambda: read(sign_jwt(KEY, claims, {"typ": "JWT"}))) == "invalid_consent"
    assert _code(lambda: read(good, PrivateKey.generate())) == "invalid_signature"
    other = {**claims, "purpose": "other"}
    assert _code(lambda: read(sign_jwt(KEY, other, {"typ": CONSENT_TYP}))) == "invalid_consent"
    assert _code(lambda: read(good, now=NOW + 301)) == "invalid_consent"
    assert _code(lambda: read("a.b")) == "invalid_consent"
    assert _code(lambda: read(None)) == "invalid_consent"
    assert _code(lambda: read("x" * 5000)) == "too_large"


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_a_tampered_signed_consent_is_always_refused(position: int, flip: int) -> None:
    """Changing any one character of a signed consent makes it refused."""
    request = _request()
    token = sign_jwt(
        KEY, consent_claims(request, "given", aud="aud", nonce="n", iat=NOW), {"typ": CONSENT_TYP}
    )
    i = position % len(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    changed = alphabet[(alphabet.index(token[i]) + 1 + flip % 64) % len(alphabet)]
    tampered = token[:i] + changed + token[i + 1 :]
    if tampered == token:
        return
    with pytest.raises(CivicError):
        read_signed(
            tampered,
            KEY.public_key,
            typ=CONSENT_TYP,
            expected=lambda p: consent_claims(
                request, "given", aud="aud", nonce="n", iat=p.get("iat")
            ),  # type: ignore[arg-type]
            now=NOW,
            max_age=300,
            max_bytes=4096,
        )
