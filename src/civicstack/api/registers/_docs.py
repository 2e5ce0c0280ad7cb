"""The registers API's documented shapes: OpenAPI response schemas and request bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.registers import (
    DEFAULT_LIMITS,
    Cardinality,
    Datatype,
    Field,
)
from civicstack.registers.custodians import MAX_LABEL_LENGTH, MAX_TOKEN_LIFETIME

# --- OpenAPI: response documents ------------------------------------------------------------

_STRINGS = {"type": "array", "items": {"type": "string"}}
ITEM_DOC = {
    "type": "object",
    "additionalProperties": {"anyOf": [{"type": "string"}, _STRINGS]},
    "description": "An item: field names to a value or a list of values (canonical JSON).",
}
_RECORD_BODY = {
    "type": "object",
    "required": ["index-entry-number", "entry-number", "entry-timestamp", "key", "item"],
    "properties": {
        "index-entry-number": {"type": "string"},
        "entry-number": {"type": "string"},
        "entry-timestamp": {"type": "string"},
        "key": {"type": "string"},
        "item": {"type": "array", "items": ITEM_DOC},
    },
}
RECORDS_DOC = {
    "type": "object",
    "additionalProperties": _RECORD_BODY,
    "description": "Records by key, in key order (GOV.UK Registers' records resource).",
}
ENTRY_DOC = {
    "type": "object",
    "required": ["index-entry-number", "entry-number", "entry-timestamp", "key", "item-hash"],
    "properties": {
        "index-entry-number": {"type": "string"},
        "entry-number": {"type": "string"},
        "entry-timestamp": {"type": "string"},
        "key": {"type": "string"},
        "item-hash": _STRINGS,
        "entry-type": {"enum": ["user", "system"]},
        "log-index": {"type": "integer", "description": "Position in the register's log."},
    },
}
_FIELD = {
    "type": "object",
    "required": ["field", "datatype", "cardinality"],
    "properties": {
        "field": {"type": "string"},
        "datatype": {"enum": [d.value for d in Datatype]},
        "cardinality": {"enum": ["1", "n"]},
        "register": {"type": ["string", "null"]},
        "text": {"type": ["string", "null"]},
    },
}
_LOG = {
    "type": "object",
    "required": ["origin", "size", "root", "verifier-key", "checkpoint", "tiles"],
    "properties": {
        "origin": {"type": "string"},
        "size": {"type": "integer"},
        "root": {"type": "string", "description": "Base64 RFC 9162 root of the log."},
        "verifier-key": {"type": "string", "description": "C2SP signed-note verifier key."},
        "checkpoint": {"type": "string"},
        "tiles": {"type": "string", "description": "The C2SP tlog-tiles URL prefix."},
    },
}
SUMMARY_DOC = {
    "type": "object",
    "required": ["name", "records", "entries", "root-hash", "synthetic"],
    "properties": {
        "name": {"type": "string"},
        "title": {"type": ["string", "null"]},
        "text": {"type": ["string", "null"]},
        "registry": {"type": ["string", "null"]},
        "phase": {"type": ["string", "null"]},
        "custodian": {"type": ["string", "null"]},
        "copyright": {"type": ["string", "null"]},
        "synthetic": {"type": "boolean"},
        "records": {"type": "integer"},
        "entries": {
            "type": "object",
            "properties": {"user": {"type": "integer"}, "system": {"type": "integer"}},
        },
        "root-hash": {"type": "string", "description": "GOV.UK root (RSF assert-root-hash)."},
        "fields": {"type": "array", "items": _FIELD},
        "log": _LOG,
        "dangling-links": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "entry-number": {"type": "integer"},
                    "field": {"type": "string"},
                    "target": {"type": "string"},
                    "line": {"type": ["integer", "null"]},
                },
            },
        },
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
LISTING_DOC = {
    "type": "object",
    "required": ["registers"],
    "properties": {"registers": {"type": "array", "items": SUMMARY_DOC}},
}
INCLUSION_DOC = {
    "type": "object",
    "required": ["leaf_index", "tree_size", "leaf_hash", "audit_path", "root_hash"],
    "properties": {
        "leaf_index": {"type": "integer"},
        "tree_size": {"type": "integer"},
        "leaf_hash": {"type": "string"},
        "audit_path": _STRINGS,
        "root_hash": {"type": "string"},
    },
}
CONSISTENCY_DOC = {
    "type": "object",
    "required": ["first", "second", "consistency", "first_root", "second_root"],
    "properties": {
        "first": {"type": "integer"},
        "second": {"type": "integer"},
        "consistency": _STRINGS,
        "first_root": {"type": "string"},
        "second_root": {"type": "string"},
    },
}
WRITTEN_DOC = {
    "type": "object",
    "required": ["register", "entries", "tree-size", "root-hash", "checkpoint"],
    "properties": {
        "register": {"type": "string"},
        "entries": {"type": "array", "items": ENTRY_DOC},
        "tree-size": {"type": "integer"},
        "root-hash": {"type": "string"},
        "checkpoint": {"type": "string"},
    },
}
_NULLABLE_INT = {"type": ["integer", "null"]}
_CUSTODIAN_REQUIRED = ["id", "register", "label", "created_at", "expires_at", "revoked_at", "state"]
_CUSTODIAN_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string", "description": "The token's public id (never its secret)."},
    "register": {"type": "string"},
    "label": {"type": "string"},
    "created_at": {"type": "integer", "description": "Seconds since the Unix epoch."},
    "expires_at": {**_NULLABLE_INT, "description": "When it stops writing (null: never)."},
    "revoked_at": _NULLABLE_INT,
    "revoked_by": {"type": ["string", "null"]},
    "state": {"enum": ["active", "expired", "revoked"]},
}
CUSTODIAN_DOC = {
    "type": "object",
    "required": _CUSTODIAN_REQUIRED,
    "properties": _CUSTODIAN_PROPERTIES,
}
TOKEN_DOC = {
    "type": "object",
    "required": ["token", *_CUSTODIAN_REQUIRED],
    "properties": {
        **_CUSTODIAN_PROPERTIES,
        "token": {"type": "string", "description": "The bearer secret, shown only here."},
    },
}
TOKENS_DOC = {
    "type": "object",
    "required": ["tokens"],
    "properties": {"tokens": {"type": "array", "items": CUSTODIAN_DOC}},
}
EVENTS_DOC = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["seq", "at", "event", "token", "register", "actor"],
                "properties": {
                    "seq": {"type": "integer"},
                    "at": {"type": "integer"},
                    "event": {"enum": ["issued", "revoked", "refused-revoked", "refused-expired"]},
                    "token": {"type": "string"},
                    "register": {"type": "string"},
                    "actor": {"type": "string"},
                },
            },
        }
    },
}


def _json(schema: dict[str, Any], description: str, media: str = "application/json") -> Any:
    return {"description": description, "content": {media: {"schema": schema}}}


PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys((400, 404, 413, 414), PROBLEM_SCHEMA)
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)."}
}
_ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "The register's state."}}


def read_responses(
    schema: dict[str, Any], description: str, media: str = "application/json"
) -> Any:
    """The documented responses of a read: the body, 304, and problems."""
    ok = _json(schema, description, media)
    ok["headers"] = _ETAG_HEADER
    return {200: ok, **NOT_MODIFIED, **PROBLEMS}


def write_responses(status: int, schema: dict[str, Any], description: str) -> Any:
    """The documented responses of a write: the body and problems."""
    return {
        status: _json(schema, description),
        **dict.fromkeys((400, 401, 403, 404, 409, 413), PROBLEM_SCHEMA),
    }


def admin_responses(schema: dict[str, Any], description: str, status: int = 200) -> Any:
    """The documented responses of an admin operation: the body and problems."""
    return {
        status: _json(schema, description),
        **dict.fromkeys((400, 401, 404, 413, 414), PROBLEM_SCHEMA),
    }


# --- request bodies -------------------------------------------------------------------------


class RecordIn(BaseModel):
    """One record to append: its key and its item (or items)."""

    model_config = ConfigDict(extra="forbid")
    key: str = PydanticField(max_length=DEFAULT_LIMITS.max_key_length)
    item: dict[str, str | list[str]] | None = None
    items: list[dict[str, str | list[str]]] | None = PydanticField(default=None, max_length=16)


class EntriesIn(BaseModel):
    """A custodian's batch: records appended as one signed write."""

    model_config = ConfigDict(extra="forbid")
    entries: list[RecordIn] = PydanticField(
        min_length=1, max_length=DEFAULT_LIMITS.max_write_records
    )


class FieldIn(BaseModel):
    """A field definition (GOV.UK's field register shape)."""

    model_config = ConfigDict(extra="forbid")
    field: str = PydanticField(max_length=128)
    datatype: Datatype
    cardinality: Cardinality = Cardinality.ONE
    # "register" would shadow a BaseModel attribute: the JSON name is an alias.
    links_to: str | None = PydanticField(default=None, max_length=128, alias="register")
    text: str | None = PydanticField(default=None, max_length=4096)

    def definition(self) -> Field:
        """The domain field (its names are checked when the register records it)."""
        return Field(self.field, self.datatype, self.cardinality, self.links_to, self.text)


class RegisterIn(BaseModel):
    """A new register: its name, fields (the primary key field named like it) and metadata."""

    model_config = ConfigDict(extra="forbid")
    name: str = PydanticField(max_length=64)
    fields: list[FieldIn] = PydanticField(min_length=1, max_length=128)
    title: str | None = PydanticField(default=None, max_length=256)
    text: str | None = PydanticField(default=None, max_length=4096)
    custodian: str | None = PydanticField(default=None, max_length=256)
    registry: str | None = PydanticField(default=None, max_length=256)
    phase: str | None = PydanticField(default=None, max_length=64)


class TokenIn(BaseModel):
    """What a custodian token is for (kept with its hash), and how long it writes."""

    model_config = ConfigDict(extra="forbid")
    label: str = PydanticField(min_length=1, max_length=MAX_LABEL_LENGTH)
    expires_in: int | None = PydanticField(
        default=None,
        ge=1,
        le=MAX_TOKEN_LIFETIME,
        description="Seconds until the token stops writing (default: the platform's lifetime).",
    )
