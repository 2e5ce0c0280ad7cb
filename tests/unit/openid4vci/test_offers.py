"""Credential Offers (OpenID4VCI §4.1): building, reading, and refusing malformed ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest

from civicstack.errors import CivicError
from civicstack.openid4vci.offers import (
    LOOPBACK_HTTP,
    PRE_AUTHORIZED_GRANT,
    CredentialOffer,
    Limits,
    OfferReference,
    TxCode,
    UnsafeAllowHttp,
    check_url,
    digest,
    form_fields,
    keyed_digest,
    new_tx_code,
    parse_offer_uri,
    reference_uri,
    same_digest,
    well_known,
)

ISSUER = "https://gov.example/issuers/passport-office"
OFFER = CredentialOffer(ISSUER, ("urn:eudi:pid:1",), "code-123", TxCode("numeric", 6, "By SMS"))


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as caught:
        fn()
    return caught.value.code


def _by_value(obj: object) -> str:
    return "openid-credential-offer://?credential_offer=" + quote(json.dumps(obj), safe="")


def test_offer_object_has_the_spec_shape() -> None:
    """The offer object names the issuer, the configurations and the pre-authorized grant with
    its tx_code description, exactly as §4.1.1 lays them out."""
    assert OFFER.to_json() == {
        "credential_issuer": ISSUER,
        "credential_configuration_ids": ["urn:eudi:pid:1"],
        "grants": {
            PRE_AUTHORIZED_GRANT: {
                "pre-authorized_code": "code-123",
                "tx_code": {"input_mode": "numeric", "length": 6, "description": "By SMS"},
            }
        },
    }


def test_offer_by_value_round_trips() -> None:
    """An offer passed by value in the openid-credential-offer URI reads back unchanged."""
    uri = OFFER.by_value()
    assert uri.startswith("openid-credential-offer://?credential_offer=%7B")
    assert parse_offer_uri(uri) == OFFER


def test_offer_by_reference_gives_the_url() -> None:
    """An offer by reference yields the URL the wallet must fetch."""
    url = f"{ISSUER}/offers/abc"
    assert parse_offer_uri(reference_uri(url)) == OfferReference(url)


def test_a_bare_offer_object_and_an_https_wallet_link_are_read() -> None:
    """A JSON offer object, or an https link to a wallet's offer endpoint, are offers too."""
    assert parse_offer_uri(json.dumps(OFFER.to_json())) == OFFER
    link = "https://wallet.example/offer?credential_offer=" + quote(json.dumps(OFFER.to_json()))
    assert parse_offer_uri(link) == OFFER


def test_unknown_members_and_other_grants_are_ignored() -> None:
    """§4.1.1: the wallet ignores parameters it does not know, and other grant types."""
    obj = OFFER.to_json()
    obj["future"] = {"x": 1}
    obj["grants"]["authorization_code"] = {"issuer_state": "s"}
    assert parse_offer_uri(_by_value(obj)) == OFFER


def test_an_empty_tx_code_object_still_asks_for_a_code() -> None:
    """An empty tx_code object means a transaction code is required (default numeric)."""
    obj = OFFER.to_json()
    obj["grants"][PRE_AUTHORIZED_GRANT]["tx_code"] = {}
    assert parse_offer_uri(_by_value(obj)).tx_code == TxCode("numeric", None, None)


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("openid-credential-offer://?credential_offer=%7B%7D&credential_offer=%7B%7D", "repeat"),
        ("openid-credential-offer://?credential_offer=x&credential_offer_uri=https://a", "both"),
        ("openid-credential-offer://?other=1", "neither"),
        ("openid-credential-offer://?credential_offer=%7Bnot-json", "json"),
        ("openid-credential-offer://?credential_offer=%5B%5D", "not an object"),
        ("openid-credential-offer://?credential_offer_uri=ftp%3A%2F%2Fa%2Fb", "ftp"),
        ("openid-credential-offer://?credential_offer_uri=https%3A%2F%2F", "no host"),
        ("javascript://?credential_offer=%7B%7D", "scheme"),
        ("openid-credential-offer://?credential_offer=" + "A" * 20_000, "size"),
    ],
)
def test_malformed_offer_uris_are_refused(uri: str, why: str) -> None:
    """Every malformed offer URI is one invalid_offer error."""
    assert _code(lambda: parse_offer_uri(uri)) == "invalid_offer", why


@pytest.mark.parametrize(
    "change",
    [
        {"credential_issuer": "not a url"},
        {"credential_issuer": "https://gov.example/x?q=1"},
        {"credential_issuer": "https://gov.example/x#frag"},
        {"credential_configuration_ids": []},
        {"credential_configuration_ids": ["a", "a"]},
        {"credential_configuration_ids": "urn:eudi:pid:1"},
        {"grants": []},
        {"grants": {PRE_AUTHORIZED_GRANT: {}}},
        {"grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": 7}}},
        {"grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": "c", "tx_code": []}}},
        {
            "grants": {
                PRE_AUTHORIZED_GRANT: {
                    "pre-authorized_code": "c",
                    "tx_code": {"description": "x" * 301},
                }
            }
        },
        {"grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": "c", "tx_code": {"length": 0}}}},
        {
            "grants": {
                PRE_AUTHORIZED_GRANT: {"pre-authorized_code": "c", "tx_code": {"input_mode": "x"}}
            }
        },
    ],
)
def test_malformed_offer_objects_are_refused(change: dict[str, object]) -> None:
    """Offer objects with a bad issuer, configurations or grant are refused."""
    obj = {**OFFER.to_json(), **change}
    assert _code(lambda: parse_offer_uri(_by_value(obj))) == "invalid_offer"


def test_duplicate_json_members_are_refused() -> None:
    """An offer repeating a member name is ambiguous and refused."""
    text = '{"credential_issuer":"https://a.example","credential_issuer":"https://b.example"}'
    assert _code(lambda: parse_offer_uri(text)) == "invalid_offer"


def test_well_known_is_inserted_between_host_and_path() -> None:
    """§12.2.2 and RFC 8414 §3.1: the well-known suffix goes before the identifier's path."""
    assert (
        well_known("https://issuer.example.com/tenant", "openid-credential-issuer")
        == "https://issuer.example.com/.well-known/openid-credential-issuer/tenant"
    )
    assert (
        well_known("https://issuer.example.com", "jwt-vc-issuer")
        == "https://issuer.example.com/.well-known/jwt-vc-issuer"
    )


def test_transaction_codes_are_digits_of_the_length_asked() -> None:
    """Transaction codes are uniform digit strings; lengths outside 4-12 are refused."""
    codes = {new_tx_code(6) for _ in range(50)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 40
    assert _code(lambda: new_tx_code(3)) == "invalid_request"


def test_tx_code_shape_checks_what_is_typed() -> None:
    """A numeric code of six digits accepts six ASCII digits and nothing else."""
    shape = TxCode("numeric", 6)
    assert shape.check("012345") == "012345"
    for bad in ["12345", "1234567", "12345a", "١٢٣٤٥٦", "", "12 345"]:
        assert _code(lambda b=bad: shape.check(b)) == "invalid_request", bad
    assert TxCode("text").check("ABC-12") == "ABC-12"


def test_keyed_digest_depends_on_key_and_context() -> None:
    """The transaction-code hash changes with the key and the offer it belongs to."""
    a = keyed_digest(b"k" * 32, "tx-code/o1", "123456")
    assert a == keyed_digest(b"k" * 32, "tx-code/o1", "123456")
    assert a != keyed_digest(b"j" * 32, "tx-code/o1", "123456")
    assert a != keyed_digest(b"k" * 32, "tx-code/o2", "123456")
    assert same_digest(a, a)
    assert not same_digest(a, digest("123456"))


def test_form_fields_refuse_repeated_parameters() -> None:
    """RFC 6749 §3.2: a repeated parameter makes a token request invalid."""
    assert form_fields(b"a=1&b=2") == {"a": "1", "b": "2"}
    assert form_fields(b"") == {}
    assert _code(lambda: form_fields(b"a=1&a=2")) == "invalid_request"
    assert _code(lambda: form_fields("é=1".encode())) == "invalid_request"
    assert _code(lambda: form_fields(b"&".join(b"x%d=1" % i for i in range(40)))) == (
        "invalid_request"
    )


def test_unsafe_allow_http_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """UnsafeAllowHttp lets a plain-http URL through with a warning; the default refuses it
    and loopback http is allowed only by LoopbackHttp."""
    url = "http://issuer.example/x"
    assert _code(lambda: check_url(url, "credential_issuer")) == "invalid_offer"
    assert _code(lambda: check_url(url, "credential_issuer", http=LOOPBACK_HTTP)) == (
        "invalid_offer"
    )
    assert check_url("http://127.0.0.1:8000/x", "credential_issuer", http=LOOPBACK_HTTP)
    with caplog.at_level("WARNING", logger="civicstack.openid4vci.offers"):
        assert check_url(url, "credential_issuer", http=UnsafeAllowHttp()) == url
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "UnsafeAllowHttp" in caplog.records[0].getMessage()


def test_lowered_offer_limits_are_enforced() -> None:
    """An operator's lower caps refuse what the defaults accept, with the same invalid_offer."""
    uri = OFFER.by_value()
    assert parse_offer_uri(uri) == OFFER
    small = Limits(offer_bytes=len(uri) - 1)
    assert _code(lambda: parse_offer_uri(uri, limits=small)) == "invalid_offer"
    one_id = Limits(id_chars=len(OFFER.credential_configuration_ids[0]) - 1)
    assert _code(lambda: parse_offer_uri(uri, limits=one_id)) == "invalid_offer"
