"""Defining and evolving a register's schema, and the metadata registers that describe them all.

A register's schema is a sequence of system entries in its own log (so a checkpoint over the
register log covers it), in the order GOV.UK's files use: ``name``, ``custodian``,
``register-name``, one ``field:<f>`` per field, then ``register:<name>`` listing the fields.
Adding a field later follows registers RFC 0001 ("Schema evolution: add field operation"):
a ``field:<f>`` entry, then a new ``register:<name>`` definition that lists it. Fields are never
removed or retyped: old entries must stay valid under the schema their readers see.

The three metadata registers describe everything (as on GOV.UK): ``datatype`` holds one record
per datatype, ``field`` one per field definition (the same item as every ``field:<f>`` entry),
``register`` one per register (the same item as its ``register:<name>`` entry). Their own
definitions below are GOV.UK's last ones, from the 2021 archive.
"""

from __future__ import annotations

from collections.abc import Sequence

from civicstack.errors import VerificationError
from civicstack.registers.batch import RegisterBatch
from civicstack.registers.canonical import Item
from civicstack.registers.datatypes import NAME_RE, Datatype
from civicstack.registers.entries import Scope
from civicstack.registers.schema import Cardinality, Field, RegisterDefinition

#: One line per datatype for the ``datatype`` register (after GOV.UK's and the spec's wording).
DATATYPE_TEXT: dict[Datatype, str] = {
    Datatype.STRING: "A string of Unicode characters encoded as UTF-8.",
    Datatype.TEXT: "A string of text which may contain Markdown formatting instructions.",
    Datatype.INTEGER: "A base 10 number with no fractional component and no leading zeros.",
    Datatype.DATETIME: "A UTC date or date and time, CCYY[-MM[-DD[Thh[:mm[:ss]]Z]]] (ISO 8601).",
    Datatype.PERIOD: "A time interval as described in ISO 8601: start/end, start/duration, "
    "duration/end or a duration.",
    Datatype.URL: "A URL reference to another resource on the Web.",
    Datatype.CURIE: "A compact URI, register:key, linking to a record of another register; a "
    "bare key links to the register named by the field.",
    Datatype.NAME: "A name: lower-case ASCII letters, digits and hyphens, starting with a letter.",
    Datatype.HASH: "A hash: sha-256: followed by 64 lower-case hexadecimal digits.",
    Datatype.POINT: "A point: [x, y] in decimal degrees, or a WKT POINT.",
    Datatype.BOOLEAN: "A boolean: true or false.",
}


def _field(name: str, datatype: Datatype, text: str, *, register: str | None = None) -> Field:
    return Field(name, datatype, Cardinality.ONE, register=register, text=text, phase="beta")


#: The fields of the three metadata registers (GOV.UK's definitions, 2021).
METADATA_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        _field(
            "datatype",
            Datatype.STRING,
            "The format of the data held in a field.",
            register="datatype",
        ),
        _field(
            "field",
            Datatype.STRING,
            "The name of a field. A field can appear in more than one register.",
            register="field",
        ),
        _field("register", Datatype.STRING, "The name of a register.", register="register"),
        _field(
            "cardinality",
            Datatype.STRING,
            "A character (either '1' or 'n') that explains if a field in a register can "
            "contain multiple values.",
        ),
        _field(
            "phase",
            Datatype.STRING,
            "The stage of development a register is in. There are 4 phases - discovery, "
            "alpha, beta and live.",
        ),
        _field(
            "registry",
            Datatype.STRING,
            "The organisation responsible for the data in a register. The custodian is "
            "usually from the registry.",
        ),
        _field("text", Datatype.TEXT, "More information about a record in a register."),
        _field(
            "copyright",
            Datatype.TEXT,
            "The copyright and licensing terms which may apply to the data held in a register.",
        ),
        Field(
            "fields",
            Datatype.STRING,
            Cardinality.MANY,
            register="field",
            text="The names of the fields in a register.",
            phase="beta",
        ),
    )
}

#: The metadata registers: name -> (fields in order, description).
METADATA_REGISTERS: dict[str, tuple[tuple[str, ...], str]] = {
    "datatype": (("datatype", "phase", "text"), "Datatypes that may appear in a register"),
    "field": (
        ("field", "datatype", "phase", "register", "cardinality", "text"),
        "Field names that may appear in a register",
    ),
    "register": (
        ("register", "text", "registry", "phase", "copyright", "fields"),
        "Registers maintained by this platform",
    ),
}


def stage_definition(
    batch: RegisterBatch,
    name: str,
    fields: Sequence[Field],
    *,
    now: int,
    custodian: str | None = None,
    title: str | None = None,
    text: str | None = None,
    registry: str | None = None,
    phase: str | None = None,
) -> RegisterDefinition:
    """Stage the system entries that name a new register and define its schema.

    The primary-key field, named like the register, must be among ``fields`` (RSF RFC: "The
    primary key field is the field with the same name as the register"). Raises
    ``invalid_schema``.
    """
    names = [f.name for f in fields]
    if NAME_RE.fullmatch(name) is None:
        raise VerificationError("invalid_schema", f"register name {name!r} is not a name")
    if name not in names:
        raise VerificationError("invalid_schema", f"register {name!r} needs a field {name!r}")
    if len(set(names)) != len(names):
        raise VerificationError("invalid_schema", "a field is listed twice")
    if batch.head.size:
        raise VerificationError("invalid_schema", f"register {name!r} already has entries")
    batch.append_items(Scope.SYSTEM, "name", [Item.of({"name": name})], now=now)
    if custodian:
        batch.append_items(Scope.SYSTEM, "custodian", [Item.of({"custodian": custodian})], now=now)
    if title:
        batch.append_items(
            Scope.SYSTEM, "register-name", [Item.of({"register-name": title})], now=now
        )
    for field in fields:
        batch.append_items(Scope.SYSTEM, f"field:{field.name}", [field.to_item()], now=now)
    definition = RegisterDefinition(
        fields=tuple(names), register=name, registry=registry, phase=phase, text=text
    )
    batch.append_items(Scope.SYSTEM, f"register:{name}", [definition.to_item()], now=now)
    return definition


def stage_new_field(batch: RegisterBatch, field: Field, *, now: int) -> RegisterDefinition:
    """Stage RFC 0001's add-field operation: ``field:<f>``, then the definition listing it.

    Raises ``invalid_schema`` for a register without a definition or a field it already has.
    """
    name = batch.head.name
    current = batch.system_record(f"register:{name}") if name else None
    if name is None or not current:
        raise VerificationError("invalid_schema", "the register has no definition to extend")
    definition = RegisterDefinition.from_item(current[0])
    if field.name in definition.fields:
        raise VerificationError("invalid_schema", f"{name!r} already has a field {field.name!r}")
    extended = RegisterDefinition(
        fields=(*definition.fields, field.name),
        register=definition.register,
        registry=definition.registry,
        phase=definition.phase,
        text=definition.text,
        copyright=definition.copyright,
    )
    batch.append_items(Scope.SYSTEM, f"field:{field.name}", [field.to_item()], now=now)
    batch.append_items(Scope.SYSTEM, f"register:{name}", [extended.to_item()], now=now)
    return extended
