"""direct_post Authorization Responses (OpenID4VP 1.0 §8.1, §8.2, §8.5), read strictly."""

from __future__ import annotations

from typing import Any

import pytest

from civicstack.errors import CivicError
from civicstack.openid4vp import (
    Limits,
    error_form,
    read_authorization_response,
    read_vp_token,
    vp_token_form,
)

STATE = "state-0123456789"


def test_vp_token_form_round_trip() -> None:
    """The wallet's form reads back as the same presentations and state."""
    form = vp_token_form({"pid": ["a.b.c~d~e.f.g"]}, STATE)
    response = read_authorization_response(form)
    assert response.state == STATE
    assert response.vp_token == {"pid": ("a.b.c~d~e.f.g",)}
    assert response.error is None


def test_error_form_round_trip() -> None:
    """An Authorization Error Response reads back with its error and description."""
    response = read_authorization_response(error_form("access_denied", STATE, "no"))
    assert (response.error, response.error_description, response.vp_token) == (
        "access_denied",
        "no",
        None,
    )
    with pytest.raises(ValueError, match="OpenID4VP"):
        error_form("made_up", STATE)


def _code(form: dict[str, Any]) -> str:
    with pytest.raises(CivicError) as err:
        read_authorization_response(form)
    return err.value.code


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"vp_token": '{"a": ["x"]}'}, "invalid_request"),
        ({"state": "", "vp_token": '{"a": ["x"]}'}, "invalid_request"),
        ({"state": "a b", "vp_token": '{"a": ["x"]}'}, "invalid_request"),
        ({"state": STATE}, "invalid_request"),
        ({"state": STATE, "vp_token": '{"a": ["x"]}', "error": "access_denied"}, "invalid_request"),
        ({"state": STATE, "error": "nope"}, "invalid_request"),
        (
            {"state": STATE, "error": "access_denied", "error_description": "x" * 2000},
            "invalid_request",
        ),
        ({"state": STATE, "vp_token": "{}"}, "invalid_request"),
        ({"state": STATE, "vp_token": '{"a": []}'}, "invalid_request"),
        ({"state": STATE, "vp_token": '{"a": "x"}'}, "invalid_request"),
        ({"state": STATE, "vp_token": '{"a": [""]}'}, "invalid_request"),
        ({"state": STATE, "vp_token": '{"a": ["x"], "a": ["y"]}'}, "invalid_request"),
        ({"state": STATE, "vp_token": '{"a": ["x"]} trailing'}, "invalid_request"),
        ({"state": STATE, "vp_token": "x" * (1024 * 1024 + 1)}, "too_large"),
        ({"state": STATE, "vp_token": '{"a": ' + '["x"]' + "}" + ""}, None),
    ],
)
def test_bad_forms(form: dict[str, Any], code: str | None) -> None:
    """Each malformed response is refused with its code (the last one is well-formed)."""
    if code is None:
        assert read_authorization_response(form).vp_token == {"a": ("x",)}
    else:
        assert _code(form) == code


def test_at_most_sixteen_presentations() -> None:
    """A vp_token holds at most 16 presentations in all."""
    assert read_vp_token('{"a": ' + str(["x"] * 16).replace("'", '"') + "}")
    with pytest.raises(CivicError):
        read_vp_token('{"a": ' + str(["x"] * 17).replace("'", '"') + "}")


def test_lowered_limits_are_enforced() -> None:
    """Lower caps refuse what the defaults accept, with the same codes."""
    token = '{"a": ["x", "y"]}'
    assert read_vp_token(token)
    with pytest.raises(CivicError) as err:
        read_vp_token(token, limits=Limits(presentations=1))
    assert err.value.code == "invalid_request"
    with pytest.raises(CivicError) as err:
        read_vp_token(token, limits=Limits(vp_token_bytes=len(token) - 1))
    assert err.value.code == "too_large"
    form = vp_token_form({"pid": ["a.b.c~d~e.f.g", "h.i.j~"]}, STATE)
    with pytest.raises(CivicError) as err:
        read_authorization_response(form, limits=Limits(presentations=1))
    assert err.value.code == "invalid_request"
