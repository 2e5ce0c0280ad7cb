"""DCQL (OpenID4VP 1.0 §6) and claims path pointers (§7): reading, matching, choosing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack.errors import CivicError
from civicstack.openid4vp.dcql import (
    DcqlClaim,
    DcqlQuery,
    dotted,
    query_for,
    select,
)

PID = "urn:eudi:pid:1"
RTW = "urn:civicstack:right-to-work:1"
# §7.4's example credential.
ARTHUR = {
    "name": "Arthur Dent",
    "address": {
        "street_address": "42 Market Street",
        "locality": "Milliways",
        "postal_code": "12345",
    },
    "degrees": [
        {"type": "Bachelor of Science", "university": "University of Betelgeuse"},
        {"type": "Master of Science", "university": "University of Betelgeuse"},
    ],
    "nationalities": ["British", "Betelgeusian"],
}


def _code(fn: Any) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def _credential(id: str = "pid", vct: str = PID, **extra: Any) -> dict[str, Any]:
    return {"id": id, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}, **extra}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (["name"], ["Arthur Dent"]),
        (["address"], [ARTHUR["address"]]),
        (["address", "street_address"], ["42 Market Street"]),
        (["degrees", None, "type"], ["Bachelor of Science", "Master of Science"]),
        (["nationalities", 1], ["Betelgeusian"]),
        (["nationalities", 2], []),
        (["nowhere"], []),
        (["name", "first"], []),  # a string component on a non-object aborts
        (["address", 0], []),  # an index on a non-array aborts
        (["address", None], []),  # null on a non-array aborts
        ([-1], []),
    ],
)
def test_claims_path_pointer_processing(path: list[Any], expected: list[Any]) -> None:
    """§7.1.1 processing selects exactly what the specification's examples say."""
    assert select(ARTHUR, path) == expected


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("given_name",), "given_name"),
        (("address", "locality"), "address.locality"),
        (("nationalities", 0), "nationalities.0"),
        (("nationalities", None), "nationalities"),
    ],
)
def test_dotted_paths(path: tuple[Any, ...], text: str) -> None:
    """Pointers become civicstack's dotted paths; a trailing null selects the whole array."""
    assert dotted(path) == text


@pytest.mark.parametrize("path", [(None,), ("degrees", None, "type"), ("a.b",), ("0",)])
def test_pointers_without_a_dotted_form_are_unsupported(path: tuple[Any, ...]) -> None:
    """A null before the end, or a claim name that reads as a path, cannot be asked for."""
    assert _code(lambda: dotted(path)) == "unsupported"


def test_round_trip() -> None:
    """A query with every supported member reads back to the same wire form."""
    wire = {
        "credentials": [
            _credential(
                claims=[
                    {"id": "a", "path": ["age_over_18"], "values": [True]},
                    {"id": "b", "path": ["birthdate"]},
                ],
                claim_sets=[["a"], ["b"]],
                multiple=True,
                trusted_authorities=[{"type": "openid_federation", "values": ["https://x"]}],
            ),
            _credential("rtw", RTW),
        ],
        "credential_sets": [{"options": [["pid"], ["rtw"]], "required": True}],
    }
    assert DcqlQuery.parse(wire).to_json() == wire


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("nope", "invalid_request"),
        ({}, "invalid_request"),
        ({"credentials": []}, "invalid_request"),
        ({"credentials": [_credential(id="bad id")]}, "invalid_request"),
        ({"credentials": [_credential(), _credential()]}, "invalid_request"),
        ({"credentials": [{**_credential(), "format": "mso_mdoc"}]}, "unsupported"),
        ({"credentials": [{"id": "x", "format": "dc+sd-jwt"}]}, "invalid_request"),
        ({"credentials": [_credential(meta=None)]}, "invalid_request"),
        ({"credentials": [{**_credential(), "meta": {"vct_values": []}}]}, "invalid_request"),
        ({"credentials": [_credential(require_cryptographic_holder_binding=False)]}, "unsupported"),
        ({"credentials": [_credential(claims=[])]}, "invalid_request"),
        ({"credentials": [_credential(claims=[{"path": []}])]}, "invalid_request"),
        ({"credentials": [_credential(claims=[{"path": [1.5]}])]}, "invalid_request"),
        ({"credentials": [_credential(claims=[{"path": [True]}])]}, "invalid_request"),
        (
            {"credentials": [_credential(claims=[{"path": ["a"], "values": [{}]}])]},
            "invalid_request",
        ),
        ({"credentials": [_credential(claims=[{"path": ["x.y"]}])]}, "unsupported"),
        ({"credentials": [_credential(claim_sets=[["a"]])]}, "invalid_request"),
        (
            {"credentials": [_credential(claims=[{"path": ["a"]}], claim_sets=[["a"]])]},
            "invalid_request",
        ),
        (
            {"credentials": [_credential(claims=[{"id": "a", "path": ["a"]}], claim_sets=[["z"]])]},
            "invalid_request",
        ),
        (
            {"credentials": [_credential()], "credential_sets": [{"options": [["other"]]}]},
            "invalid_request",
        ),
        ({"credentials": [_credential(multiple="yes")]}, "invalid_request"),
        ({"credentials": [_credential(trusted_authorities=[{"type": "aki"}])]}, "invalid_request"),
        ({"credentials": [_credential()] * 17}, "invalid_request"),
    ],
)
def test_bad_queries(query: Any, code: str) -> None:
    """Malformed or unsupported queries are refused with their code."""
    assert _code(lambda: DcqlQuery.parse(query)) == code


def test_unknown_members_are_ignored() -> None:
    """§6: implementations ignore unknown properties."""
    parsed = DcqlQuery.parse({"credentials": [_credential(extension=1)], "future": True})
    assert parsed.to_json() == {"credentials": [_credential()]}


def _presented(claims: dict[str, Any], vct: str = PID) -> dict[str, Any]:
    return {"vct": vct, **claims}


def test_check_accepts_what_answers_and_refuses_the_rest() -> None:
    """§8.6 2.b: the right type with every claim of one option; values match exactly."""
    query = DcqlQuery.parse(
        {
            "credentials": [
                _credential(
                    claims=[
                        {"id": "over", "path": ["age_over_18"], "values": [True]},
                        {"id": "born", "path": ["birthdate"]},
                    ],
                    claim_sets=[["over"], ["born"]],
                )
            ]
        }
    )
    (wanted,) = query.credentials
    wanted.check(PID, _presented({"age_over_18": True}))
    wanted.check(PID, _presented({"birthdate": "1990-01-01"}))
    assert _code(lambda: wanted.check(RTW, _presented({"age_over_18": True}))) == (
        "query_not_satisfied"
    )
    assert _code(lambda: wanted.check(PID, _presented({"age_over_18": 1}))) == (
        "query_not_satisfied"
    )
    assert _code(lambda: wanted.check(PID, _presented({"given_name": "A"}))) == (
        "query_not_satisfied"
    )


def test_check_presented_sets() -> None:
    """§6.4.2: required credential sets must be met; one presentation per query unless
    multiple; unknown ids are refused."""
    query = DcqlQuery.parse(
        {
            "credentials": [_credential("pid"), _credential("rtw", RTW), _credential("extra")],
            "credential_sets": [
                {"options": [["pid"], ["rtw"]]},
                {"options": [["extra"]], "required": False},
            ],
        }
    )
    query.check_presented({"rtw": ["x"]})
    query.check_presented({"pid": ["x"], "extra": ["y"]})
    assert _code(lambda: query.check_presented({"extra": ["y"]})) == "query_not_satisfied"
    assert _code(lambda: query.check_presented({"pid": ["x", "y"]})) == "query_not_satisfied"
    assert _code(lambda: query.check_presented({"other": ["x"]})) == "query_not_satisfied"


def test_choose_prefers_the_first_option_held() -> None:
    """§6.4: the wallet answers with the first type and claim option it holds, skipping
    optional sets."""
    query = DcqlQuery.parse(
        {
            "credentials": [
                {
                    **_credential(
                        claims=[
                            {"id": "over", "path": ["age_over_18"]},
                            {"id": "born", "path": ["birthdate"]},
                        ],
                        claim_sets=[["over"], ["born"]],
                    ),
                    "meta": {"vct_values": ["urn:other", PID]},
                },
                _credential("extra", RTW),
            ],
            "credential_sets": [
                {"options": [["pid"]]},
                {"options": [["extra"]], "required": False},
            ],
        }
    )

    def holds(vct: str, claims: tuple[DcqlClaim, ...]) -> bool:
        return vct == PID and all(c.path == ("birthdate",) for c in claims)

    (choice,) = query.choose(holds)
    assert (choice.query, choice.vct, choice.paths) == ("pid", PID, ("birthdate",))
    assert _code(lambda: query.choose(lambda vct, claims: False)) == "no_matching_credential"


def test_registration_claims_cover_every_option() -> None:
    """What the registration must allow is every claim any option may ask, per vct."""
    query = query_for([("pid", PID, ("given_name", "address.locality"))])
    assert query.claims_by_vct() == {PID: ["given_name", "address.locality"]}
    assert query.to_json()["credentials"][0]["claims"] == [
        {"path": ["given_name"]},
        {"path": ["address", "locality"]},
    ]


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
            st.lists(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), max_size=4, unique=True),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    )
)
def test_presets_round_trip(items: list[tuple[str, list[str]]]) -> None:
    """Any query written from (id, vct, paths) reads back unchanged."""
    query = query_for([(qid, f"urn:x:{qid}", paths) for qid, paths in items])
    assert DcqlQuery.parse(query.to_json()) == query
