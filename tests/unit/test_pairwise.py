"""Pairwise subject identifiers: stable per sector, unlinkable across sectors, strict inputs."""

from __future__ import annotations

import pytest

from civicstack.errors import InputError
from civicstack.pairwise import (
    PAIRWISE_ID_LENGTH,
    Subject,
    check_pairwise_id,
    derive_pairwise_key,
    pairwise_id,
    subject_of,
)

KEY = bytes(range(32))
AMARA = Subject("GB", "QQ123456C")


def test_same_sector_same_id_and_sectors_differ() -> None:
    a = pairwise_id(KEY, "insurer", AMARA)
    assert a == pairwise_id(KEY, "insurer", AMARA)
    assert a != pairwise_id(KEY, "council", AMARA)
    assert a != pairwise_id(KEY, "insurer", Subject("GB", "QQ123457C"))
    assert a != pairwise_id(KEY, "insurer", Subject("IE", "QQ123456C"))
    assert a != pairwise_id(bytes(32), "insurer", AMARA)
    assert len(a) == PAIRWISE_ID_LENGTH
    assert check_pairwise_id(a) == a


def test_fields_cannot_be_shifted_between_parts() -> None:
    # The NUL separators keep "ab" + "c" apart from "a" + "bc".
    assert pairwise_id(KEY, "ab", Subject("c", "d")) != pairwise_id(KEY, "a", Subject("bc", "d"))


def test_subject_of_needs_number_and_country() -> None:
    claims = {"personal_administrative_number": "QQ123456C", "issuing_country": "GB"}
    assert subject_of(claims) == AMARA
    for missing in ("personal_administrative_number", "issuing_country"):
        with pytest.raises(InputError) as exc:
            subject_of({k: v for k, v in claims.items() if k != missing})
        assert exc.value.code == "pid_without_identifier"
    with pytest.raises(InputError, match="printable"):
        subject_of({**claims, "personal_administrative_number": "QQ\x00"})
    with pytest.raises(InputError):
        subject_of({**claims, "issuing_country": 44})


@pytest.mark.parametrize("bad", ["", "x" * 43 + "=", "x" * 42, "!" * 43, 43, None])
def test_check_pairwise_id_refuses_other_shapes(bad: object) -> None:
    with pytest.raises(InputError) as exc:
        check_pairwise_id(bad)
    assert exc.value.code == "invalid_request"


def test_derived_key_is_stable_and_separate_from_the_master_key() -> None:
    master = bytes(32)
    assert derive_pairwise_key(master) == derive_pairwise_key(master)
    assert derive_pairwise_key(master) != master
    with pytest.raises(InputError):
        pairwise_id(b"short", "insurer", AMARA)
