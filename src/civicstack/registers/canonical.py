"""Items and their identity: GOV.UK Registers canonical JSON and the ``sha-256:`` item hash.

An item is a flat JSON object whose member names are field names and whose values are strings
(cardinality 1) or arrays of strings (cardinality n). Its hash is the SHA-256 of its canonical
JSON, written ``sha-256:<64 lowercase hex>`` (Registers specification v1, "hash datatype"; RSF
RFC, ``add-item``: "the canonical representation of the item").

The canonical form is the one GOV.UK's register server (openregister-java ``CanonicalJsonMapper``,
Jackson with ``ORDER_MAP_ENTRIES_BY_KEYS`` and ``ESCAPE_NON_ASCII`` off) produced, which every
archived ``add-item`` line reproduces byte for byte:

1. members sorted by name, comparing UTF-16 code units (Java's ``String.compareTo``);
2. no whitespace between tokens;
3. strings: ``"`` and ``\\`` escaped; U+0008, U+0009, U+000A, U+000C, U+000D as ``\\b \\t \\n
   \\f \\r``; every other code point below U+0020 as ``\\u00XX`` with UPPER-case hex; everything
   else, ``/``, U+007F and non-ASCII included, written raw as UTF-8;
4. no empty values: registers RFC 0020 ("blob normalisation") drops null, ``""``, ``[]`` and empty
   strings inside arrays, so an item never carries them (none of the archived items does).

Array order is kept: the v1 model serialises cardinality-n values as JSON arrays in the order
written (the register register's ``fields`` list is ordered). Strings are hashed as written, not
NFC-normalised: RFC 0020's NFC step stayed a draft and GOV.UK never applied it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from civicstack._crypto import sha256_digest
from civicstack.errors import InputError
from civicstack.registers.limits import DEFAULT_LIMITS, Limits

#: A field's value in an item: one string, or the strings of a cardinality-n field.
Value = str | tuple[str, ...]

HASH_PREFIX = "sha-256:"

_ESCAPES = {i: f"\\u{i:04X}" for i in range(0x20)}
_ESCAPES.update(
    {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
)


def json_string(text: str) -> str:
    """``text`` as a JSON string literal in the canonical escaping (see the module docstring)."""
    return '"' + text.translate(_ESCAPES) + '"'


def _sorted_names(fields: Mapping[str, Value]) -> list[str]:
    # Java compares UTF-16 code units; for ASCII names (every field name) that is plain order.
    if all(name.isascii() for name in fields):
        return sorted(fields)
    return sorted(fields, key=lambda name: name.encode("utf-16-be", "surrogatepass"))


# orjson escapes exactly as Jackson did except for the case of \u00XX hex digits; an escaped
# backslash is matched first so that a literal "\u00ab" in a string is left alone.
_LOWER_HEX_ESCAPE = re.compile(rb"(\\\\)|\\u00([0-9a-f]{2})")


def _upper_hex(match: re.Match[bytes]) -> bytes:
    return match.group(0) if match.group(1) else b"\\u00" + match.group(2).upper()


def canonical_json(fields: Mapping[str, Value]) -> bytes:
    """The canonical JSON bytes of an item whose values are already normalised."""
    if all(name.isascii() for name in fields):
        # Fast path (most of an import's time otherwise): ASCII names sort the same by byte.
        try:
            out = orjson.dumps(dict(fields), option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError as exc:
            raise InputError("invalid_item", "a string holds a lone surrogate code point") from exc
        return _LOWER_HEX_ESCAPE.sub(_upper_hex, out) if b"\\u00" in out else out
    parts = []
    for name in _sorted_names(fields):
        value = fields[name]
        if isinstance(value, str):
            rendered = json_string(value)
        else:
            rendered = "[" + ",".join(json_string(v) for v in value) + "]"
        parts.append(json_string(name) + ":" + rendered)
    text = "{" + ",".join(parts) + "}"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError("invalid_item", "a string holds a lone surrogate code point") from exc


def item_hash(canonical: bytes) -> str:
    """``sha-256:<hex>`` of canonical item bytes."""
    return HASH_PREFIX + sha256_digest(canonical).hex()


@dataclass(frozen=True, slots=True)
class Item:
    """An immutable item: its fields, canonical bytes and ``sha-256:`` hash (its identity)."""

    hash: str
    canonical: bytes = field(repr=False)
    fields: Mapping[str, Value] = field(repr=False, compare=False)

    @classmethod
    def of(
        cls, fields: Mapping[str, str | Sequence[str] | None], *, limits: Limits = DEFAULT_LIMITS
    ) -> Item:
        """Normalise ``fields`` (RFC 0020: drop empty values) and build the item.

        Raises ``invalid_item`` for a value that is neither a string nor a list of strings, or an
        item left with no fields; ``too_large`` past ``limits``.
        """
        normal: dict[str, Value] = {}
        for name, value in fields.items():
            if not isinstance(name, str):
                raise InputError("invalid_item", "field names must be strings")
            if value is None or value == "":
                continue
            if isinstance(value, str):
                normal[name] = value
                continue
            if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
                raise InputError("invalid_item", f"field {name!r}: not a string or string list")
            kept = tuple(v for v in value if v != "")
            if kept:
                normal[name] = kept
        return cls._build(normal, limits)

    @classmethod
    def from_json(cls, raw: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Item:
        """Parse an item that must already be in canonical form (an RSF ``add-item`` argument).

        Raises ``too_large`` or ``invalid_item`` (not JSON, not a flat object of strings and
        string lists, an empty value, or any byte differing from the canonical form).
        """
        if len(raw) > limits.max_item_bytes:
            raise InputError("too_large", f"item exceeds {limits.max_item_bytes} bytes")
        try:
            parsed: Any = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError("invalid_item", "not valid JSON") from exc
        if not isinstance(parsed, dict):
            raise InputError("invalid_item", "an item is a JSON object")
        fields: dict[str, Value] = {}
        for name, value in parsed.items():
            if isinstance(value, str) and value:
                fields[name] = value
            elif isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
                fields[name] = tuple(value)
            else:
                raise InputError(
                    "invalid_item", f"field {name!r}: expected a non-empty string or string list"
                )
        item = cls._build(fields, limits)
        # Byte equality with the re-serialised form subsumes every other strictness check:
        # whitespace, member order, escapes, duplicate names (which the parse would collapse).
        if item.canonical != raw:
            raise InputError("invalid_item", "the item is not in canonical JSON form")
        return item

    @classmethod
    def _build(cls, fields: dict[str, Value], limits: Limits) -> Item:
        if not fields:
            raise InputError("invalid_item", "an item has at least one field")
        if len(fields) > limits.max_item_fields:
            raise InputError("too_large", f"an item has at most {limits.max_item_fields} fields")
        for name, value in fields.items():
            if not isinstance(value, str) and len(value) > limits.max_list_values:
                raise InputError(
                    "too_large", f"field {name!r} has over {limits.max_list_values} values"
                )
        canonical = canonical_json(fields)
        if len(canonical) > limits.max_item_bytes:
            raise InputError("too_large", f"item exceeds {limits.max_item_bytes} bytes")
        ordered = {name: fields[name] for name in _sorted_names(fields)}
        return cls(item_hash(canonical), canonical, MappingProxyType(ordered))

    def get(self, name: str) -> Value | None:
        """The value of field ``name``, or ``None``."""
        return self.fields.get(name)

    def text(self) -> str:
        """The canonical JSON as text (the ``add-item`` argument)."""
        return self.canonical.decode("utf-8")

    def to_json(self) -> dict[str, str | list[str]]:
        """A plain JSON-ready dict (lists for cardinality-n values)."""
        return {k: v if isinstance(v, str) else list(v) for k, v in self.fields.items()}
