"""Canonical item JSON and item hashes, GOV.UK Registers v1 style."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack.errors import CivicError
from civicstack.registers import Item, canonical_json, json_string

# Examples from the RSF RFC (openregister/registers-rfcs, content/rsf-spec).
RFC_COUNTRY = (
    '{"country":"GB","name":"United Kingdom",'
    '"official-name":"The United Kingdom of Great Britain and Northern Ireland"}'
)
RFC_COUNTRY_HASH = "sha-256:08bef0039a4f0fb52f3a5ce4b97d7927bf159bc254b8881c45d95945617237f6"

names = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
strings = st.text(min_size=1, max_size=40)
values = st.one_of(strings, st.lists(strings, min_size=1, max_size=4).map(tuple))
items = st.dictionaries(names, values, min_size=1, max_size=8)


def test_rfc_example_item_hash() -> None:
    """The RSF RFC's country item hashes to the hash its append-entry example names."""
    item = Item.of(
        {
            "official-name": "The United Kingdom of Great Britain and Northern Ireland",
            "name": "United Kingdom",
            "country": "GB",
        }
    )
    assert item.text() == RFC_COUNTRY
    assert item.hash == RFC_COUNTRY_HASH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a/b", '"a/b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x01\x0b\x12\x15\x1f", '"\\u0000\\u0001\\u000B\\u0012\\u0015\\u001F"'),
        ("\x7f", '"\x7f"'),
        ("Côte d’Ivoire", '"Côte d’Ivoire"'),
        ("\U0001d11e", '"\U0001d11e"'),
        ("\u2028", '"\u2028"'),
    ],
)
def test_string_escaping_matches_govuk(text: str, expected: str) -> None:
    """Strings escape exactly as GOV.UK's Jackson mapper did (upper-case hex, raw non-ASCII)."""
    assert json_string(text) == expected


def test_members_sort_by_utf16_code_units() -> None:
    """Member names sort as Java compares strings: by UTF-16 code unit, not code point."""
    # U+FF61 is one code unit above the surrogates that encode U+1F600; Java puts it last.
    fields = {"\uff61": "a", "\U0001f600": "b", "z": "c"}
    assert canonical_json(fields).decode() == '{"z":"c","\U0001f600":"b","\uff61":"a"}'


def test_lone_surrogate_is_rejected() -> None:
    """A string that cannot be UTF-8 cannot be an item."""
    with pytest.raises(CivicError) as caught:
        Item.of({"name": "\ud800"})
    assert caught.value.code == "invalid_item"


def test_of_drops_empty_values() -> None:
    """Item.of normalises as RFC 0020 says: no null, empty string, empty list or empty element."""
    item = Item.of({"a": "x", "b": "", "c": None, "d": [], "e": ["", "y", ""]})
    assert item.text() == '{"a":"x","e":["y"]}'


@pytest.mark.parametrize(
    "fields",
    [{}, {"a": ""}, {"a": None}],
)
def test_of_rejects_an_empty_item(fields: dict[str, str | None]) -> None:
    """An item with nothing left after normalisation is refused."""
    with pytest.raises(CivicError) as caught:
        Item.of(fields)
    assert caught.value.code == "invalid_item"


def test_of_rejects_non_string_values() -> None:
    """Values are strings or lists of strings, never numbers."""
    with pytest.raises(CivicError) as caught:
        Item.of({"a": [1, 2]})
    assert caught.value.code == "invalid_item"


def test_from_json_rejects_oversize_items() -> None:
    """An add-item argument over the cap is refused before it is parsed."""
    raw = b'{"a":"' + b"x" * (1 << 20) + b'"}'
    with pytest.raises(CivicError) as caught:
        Item.from_json(raw)
    assert caught.value.code == "too_large"


@given(items)
def test_canonical_json_is_json_for_the_same_fields(fields: dict[str, object]) -> None:
    """Canonical bytes parse back to the same fields and hash as SHA-256 of those bytes."""
    item = Item.of(fields)
    parsed = json.loads(item.canonical)
    assert {k: v if isinstance(v, str) else tuple(v) for k, v in parsed.items()} == fields
    assert item.hash == "sha-256:" + hashlib.sha256(item.canonical).hexdigest()


@given(items)
def test_canonical_json_equals_an_independent_serialiser(fields: dict[str, object]) -> None:
    """Python's json (sorted keys, no spaces, upper-cased \\u hex) gives the same bytes."""
    item = Item.of(fields)
    plain = {k: v if isinstance(v, str) else list(v) for k, v in fields.items()}
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Python writes \u001f; GOV.UK wrote \u001F. Names are ASCII here, so the orders agree.
    fixed = "".join(
        part if i % 2 == 0 else part.upper() for i, part in enumerate(_split_unicode_escapes(text))
    )
    assert item.canonical == fixed.encode("utf-8")


def _split_unicode_escapes(text: str) -> list[str]:
    # Alternate plain text and the 4 hex digits of each \u escape (not preceded by a backslash).
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            if text[i + 1] == "u":
                parts.extend([text[start : i + 2], text[i + 2 : i + 6]])
                start = i = i + 6
                continue
            i += 2
            continue
        i += 1
    parts.append(text[start:])
    return parts


@given(items)
def test_from_json_accepts_exactly_the_canonical_form(fields: dict[str, object]) -> None:
    """from_json reads canonical bytes back to an equal item, and refuses them with a space."""
    item = Item.of(fields)
    assert Item.from_json(item.canonical) == item
    with pytest.raises(CivicError) as caught:
        Item.from_json(item.canonical.replace(b":", b": ", 1))
    assert caught.value.code == "invalid_item"


@given(items, st.randoms())
def test_member_order_does_not_change_the_hash(
    fields: dict[str, object], rng: random.Random
) -> None:
    """The hash identifies content: any insertion order gives the same item."""
    keys = list(fields)
    rng.shuffle(keys)
    shuffled = {k: fields[k] for k in keys}
    assert Item.of(shuffled).hash == Item.of(fields).hash


@given(items, items)
def test_different_content_different_hash(a: dict[str, object], b: dict[str, object]) -> None:
    """Two items share a hash only when their fields are equal."""
    first, second = Item.of(a), Item.of(b)
    assert (first.hash == second.hash) == (first.fields == second.fields)


def test_literal_backslash_u_is_not_mistaken_for_an_escape() -> None:
    """A string holding a backslash then u00ab keeps its lower case; real escapes go upper."""
    item = Item.of({"a": "\\u00ab\x1f\\\x0b"})
    assert item.text() == '{"a":"\\\\u00ab\\u001F\\\\\\u000B"}'


def test_non_ascii_names_take_the_same_escaping() -> None:
    """Items with non-ASCII member names escape values exactly like ASCII-named ones."""
    assert canonical_json({"é": "\x1f"}) == '{"é":"\\u001F"}'.encode()
