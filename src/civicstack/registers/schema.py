"""A register's schema, read from its system entries, and the validation of items against it.

GOV.UK Registers (RSF RFC "type checking"; registers RFCs 0001 schema evolution and 0008 entry
keys) describe a register with system entries:

- ``name``: ``{"name": <register name>}``, the register's identity (never changes);
- ``custodian``: ``{"custodian": <person>}``; ``register-name``: ``{"register-name": <title>}``;
- ``field:<f>``: the field definition (``field``, ``datatype``, ``cardinality`` ``1``/``n``,
  optional ``register`` it links to, ``phase``, ``text``), the same item as field ``f``'s record
  in the ``field`` register;
- ``register:<name>``: the register definition (ordered ``fields``, ``registry``, ``phase``,
  ``text``, optional ``register`` and ``copyright``), the same item as the record in the
  ``register`` register.

A user item is valid when every field it has is in the definition's ``fields`` and each value has
the field's cardinality and datatype; the primary-key field (the one named like the register)
equals the entry key (RFC 0008). Links are collected for the caller to resolve: a CURIE value
names ``register:key``, a bare CURIE or a plain value of a field with a ``register`` attribute
names a key in that register.

The schema is checked for consistency where it is used, when a user entry is appended: a field
definition filed under the wrong key (the archive's territory register briefly had one, fixed
before any user entry) is harmless until a user item depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from civicstack.errors import VerificationError
from civicstack.registers.canonical import Item, Value
from civicstack.registers.datatypes import NAME_RE, Datatype, check_value


class Cardinality(StrEnum):
    """How many values a field holds: one string, or a list of strings."""

    ONE = "1"
    MANY = "n"


#: RFC 0008: alphanumerics, with single ``-``, ``_``, ``.`` or ``/`` between them.
KEY_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[-_./](?![-_./]))*")
#: System keys: ``name``, ``custodian``... (keys), or ``field:<f>``, ``register:<r>`` (names).
SYSTEM_KEY_RE = re.compile(rf"[a-z][a-z0-9-]*:[a-z][a-z0-9-]*|{KEY_RE.pattern}")


def _schema_error(detail: str) -> VerificationError:
    return VerificationError("invalid_schema", detail)


def _single(item: Item, name: str, *, required: bool = True) -> str | None:
    value = item.get(name)
    if value is None:
        if required:
            raise _schema_error(f"missing {name!r} in {item.text()[:120]}")
        return None
    if not isinstance(value, str):
        raise _schema_error(f"{name!r} must be a single value")
    return value


@dataclass(frozen=True, slots=True)
class Field:
    """One field definition (a ``field:<name>`` system entry's item)."""

    name: str
    datatype: Datatype
    cardinality: Cardinality
    register: str | None = None
    text: str | None = None
    phase: str | None = None

    @classmethod
    def from_item(cls, item: Item) -> Field:
        """Read a field definition; raise ``invalid_schema`` if it is malformed."""
        known = {"field", "datatype", "cardinality", "register", "text", "phase"}
        extra = set(item.fields) - known
        if extra:
            raise _schema_error(f"unknown attributes in a field definition: {sorted(extra)}")
        name = _single(item, "field") or ""
        if NAME_RE.fullmatch(name) is None:
            raise _schema_error(f"field name {name!r} is not a name")
        datatype = _single(item, "datatype") or ""
        cardinality = _single(item, "cardinality") or ""
        try:
            kind = Datatype(datatype)
        except ValueError:
            raise _schema_error(f"field {name!r}: unknown datatype {datatype!r}") from None
        try:
            card = Cardinality(cardinality)
        except ValueError:
            raise _schema_error(f"field {name!r}: cardinality must be 1 or n") from None
        register = _single(item, "register", required=False)
        if register is not None and NAME_RE.fullmatch(register) is None:
            raise _schema_error(f"field {name!r}: register {register!r} is not a name")
        return cls(
            name=name,
            datatype=kind,
            cardinality=card,
            register=register,
            text=_single(item, "text", required=False),
            phase=_single(item, "phase", required=False),
        )

    def to_item(self) -> Item:
        """The definition as an item (for a ``field:`` entry or the ``field`` register)."""
        return Item.of(
            {
                "field": self.name,
                "datatype": self.datatype.value,
                "cardinality": self.cardinality.value,
                "register": self.register,
                "text": self.text,
                "phase": self.phase,
            }
        )


@dataclass(frozen=True, slots=True)
class RegisterDefinition:
    """A register definition (a ``register:<name>`` system entry's item)."""

    fields: tuple[str, ...]
    register: str | None = None
    registry: str | None = None
    phase: str | None = None
    text: str | None = None
    copyright: str | None = None

    @classmethod
    def from_item(cls, item: Item) -> RegisterDefinition:
        """Read a register definition; raise ``invalid_schema`` if it is malformed."""
        known = {"fields", "register", "registry", "phase", "text", "copyright"}
        extra = set(item.fields) - known
        if extra:
            raise _schema_error(f"unknown attributes in a register definition: {sorted(extra)}")
        fields = item.get("fields")
        if fields is None:
            raise _schema_error("a register definition lists its fields")
        names = (fields,) if isinstance(fields, str) else fields
        for name in names:
            if NAME_RE.fullmatch(name) is None:
                raise _schema_error(f"field name {name!r} is not a name")
        if len(set(names)) != len(names):
            raise _schema_error("a register definition lists a field twice")
        register = _single(item, "register", required=False)
        if register is not None and NAME_RE.fullmatch(register) is None:
            raise _schema_error(f"register name {register!r} is not a name")
        return cls(
            fields=tuple(names),
            register=register,
            registry=_single(item, "registry", required=False),
            phase=_single(item, "phase", required=False),
            text=_single(item, "text", required=False),
            copyright=_single(item, "copyright", required=False),
        )

    def to_item(self) -> Item:
        """The definition as an item (for a ``register:`` entry or the ``register`` register)."""
        return Item.of(
            {
                "fields": list(self.fields),
                "register": self.register,
                "registry": self.registry,
                "phase": self.phase,
                "text": self.text,
                "copyright": self.copyright,
            }
        )


def check_system_item(key: str, item: Item) -> None:
    """Check the shape of a system entry's item for the known system keys.

    Raises ``invalid_schema``. Keys this model does not interpret (the archive has a few) are
    kept as opaque metadata and not checked.
    """
    kind, _, subject = key.partition(":")
    if key in ("name", "custodian", "register-name"):
        if set(item.fields) != {key} or not isinstance(item.get(key), str):
            raise _schema_error(f"a {key!r} entry's item is {{{key!r}: <string>}}")
        if key == "name" and NAME_RE.fullmatch(str(item.get("name"))) is None:
            raise _schema_error("the register name is not a name")
    elif kind == "field" and subject:
        Field.from_item(item)
    elif kind == "register" and subject:
        RegisterDefinition.from_item(item)


def check_field_change(field: Field, known: Field | None) -> None:
    """Return if ``field`` may define a field already defined as ``known`` (or never defined:
    ``None``); raise ``field_redefined`` if it changes its datatype, cardinality or the register
    it links to.

    The one rule for every way a field is (re)defined: a new register (against the ``field``
    register), RFC 0001's add-field, and a ``field:<f>`` entry in an RSF import or patch
    (against the register's own definition and the ``field`` register). Fields are never
    retyped: entries written under the old definition must stay valid. Text and phase may
    change.
    """
    if known is None or known.name != field.name:
        return
    changed = [
        f"{what} {old!r} -> {new!r}"
        for what, old, new in (
            ("datatype", known.datatype.value, field.datatype.value),
            ("cardinality", known.cardinality.value, field.cardinality.value),
            ("register", known.register, field.register),
        )
        if old != new
    ]
    if changed:
        raise VerificationError(
            "field_redefined",
            f"field {field.name!r} is already defined; a definition may not change its "
            + ", ".join(changed),
        )


@dataclass(frozen=True, slots=True)
class Link:
    """A reference from a value to a record (``key``) or to a whole register (``key=None``)."""

    register: str
    key: str | None


@dataclass(frozen=True, slots=True)
class Schema:
    """The fields in force for a register's user entries."""

    register: str
    fields: Mapping[str, Field]

    @classmethod
    def from_metadata(cls, name: str, metadata: Mapping[str, tuple[Item, ...]]) -> Schema:
        """Build the schema from the latest system records; raise ``invalid_schema``."""
        definition_items = metadata.get(f"register:{name}")
        if not definition_items:
            raise _schema_error(f"register {name!r} has no register:{name} definition")
        definition = RegisterDefinition.from_item(definition_items[0])
        if definition.register is not None and definition.register != name:
            raise _schema_error(f"register:{name} defines register {definition.register!r}")
        fields: dict[str, Field] = {}
        for field_name in definition.fields:
            items = metadata.get(f"field:{field_name}")
            if not items:
                raise _schema_error(f"field {field_name!r} is listed but never defined")
            field = Field.from_item(items[0])
            if field.name != field_name:
                raise _schema_error(f"field:{field_name} holds the definition of {field.name!r}")
            fields[field_name] = field
        return cls(name, fields)

    def validate(self, item: Item, key: str) -> list[tuple[str, Link]]:
        """Check ``item`` appended under ``key``; return its links as ``(field, link)``.

        Raises ``unknown_field``, ``invalid_cardinality``, ``invalid_datatype`` or
        ``primary_key_mismatch``.
        """
        links: list[tuple[str, Link]] = []
        for name, value in item.fields.items():
            field = self.fields.get(name)
            if field is None:
                raise VerificationError(
                    "unknown_field", f"register {self.register!r} has no field {name!r}"
                )
            values = self._values(field, value)
            for one in values:
                try:
                    check_value(field.datatype, one)
                except VerificationError as exc:
                    raise VerificationError(exc.code, f"field {name!r}: {exc.detail}") from None
                link = self._link(field, one)
                if link is not None:
                    links.append((name, link))
        primary = item.get(self.register)
        if self.register in self.fields and primary != key:
            raise VerificationError(
                "primary_key_mismatch",
                f"the {self.register!r} field is {primary!r} but the entry key is {key!r}",
            )
        return links

    @staticmethod
    def _values(field: Field, value: Value) -> tuple[str, ...]:
        if field.cardinality is Cardinality.ONE:
            if not isinstance(value, str):
                raise VerificationError(
                    "invalid_cardinality", f"field {field.name!r} holds one value, not a list"
                )
            return (value,)
        if isinstance(value, str):
            raise VerificationError(
                "invalid_cardinality", f"field {field.name!r} holds a list of values"
            )
        return value

    def _link(self, field: Field, value: str) -> Link | None:
        if field.datatype is Datatype.CURIE:
            prefix, colon, reference = value.partition(":")
            if colon:
                return Link(prefix, reference or None)
            if field.register is None:
                raise VerificationError(
                    "invalid_datatype",
                    f"field {field.name!r}: relative CURIE {value!r} but the field links nowhere",
                )
            return Link(field.register, value)
        if field.register is not None and field.name != self.register:
            return Link(field.register, value)
        return None
