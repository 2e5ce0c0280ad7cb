"""CloudEvents 1.0 in the structured JSON mode: the envelope every webhook carries.

Specifications: CloudEvents 1.0 (cloudevents/spec ``cloudevents/spec.md``: §"Context Attributes",
§"Naming Conventions", §"Type System", §"REQUIRED Attributes", §"OPTIONAL Attributes",
§"Extension Context Attributes", §"Size Limits") and the JSON Event Format
(``cloudevents/formats/json-format.md`` §2.2 type system mapping, §3 envelope, §3.1 ``data`` and
``data_base64``). Media type ``application/cloudevents+json`` (json-format §3).

:func:`encode` writes an event (compact JSON, the bytes a webhook signs); :func:`parse` reads
one strictly: every MUST of the two documents is checked, a duplicate member or an unknown
``specversion`` is refused, and a ``null`` attribute counts as absent (json-format §2.2).
Producers here also keep the SHOULDs (names start with a letter and are at most 20
characters; ``source`` is an absolute URI), so what :func:`encode` writes, any consumer reads.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from civicstack._crypto import json_dumps, json_object_strict
from civicstack.errors import InputError

SPECVERSION: Final = "1.0"
MEDIA_TYPE: Final = "application/cloudevents+json"
#: spec.md §"Size Limits": intermediaries MUST forward events of 64 KiB or less; consumers
#: SHOULD accept at least that. Nothing larger is produced or read here.
MAX_EVENT_BYTES: Final = 64 * 1024

#: The core context attributes (spec.md §"REQUIRED Attributes", §"OPTIONAL Attributes").
REQUIRED: Final = ("id", "source", "specversion", "type")
OPTIONAL: Final = ("datacontenttype", "dataschema", "subject", "time")
_CORE = frozenset(REQUIRED + OPTIONAL)

_NAME = re.compile(r"[a-z0-9]+")
_PRODUCER_NAME = re.compile(r"[a-z][a-z0-9]{0,19}")
_INT32 = (-(2**31), 2**31 - 1)
# RFC 3986 §2: unreserved, reserved and "%" (checked as pct-encoded below); nothing else.
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# RFC 3339 §5.6 date-time.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)
# RFC 2046 §5.1 / RFC 6838 §4.2: type "/" subtype, then parameters.
_TOKEN = r"[A-Za-z0-9!#$&^_.+\-]{1,127}"  # noqa: S105 - RFC 6838 token, not a secret
_MEDIA = re.compile(rf"({_TOKEN})/({_TOKEN})(\s*;\s*{_TOKEN}=(\"[^\"\\]*\"|{_TOKEN}))*")
# What a CloudEvents String may not hold: control characters, surrogates, noncharacters
# (U+FDD0-FDEF and the last two code points of every plane).
_NOT_STRING = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)


class _NoData:
    """The absence of ``data``, distinct from an explicit JSON ``null`` (json-format §3.1.1)."""

    _instance: _NoData | None = None

    def __new__(cls) -> _NoData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DATA"


NO_DATA: Final = _NoData()

ExtensionValue = bool | int | str


@dataclass(frozen=True)
class CloudEvent:
    """One CloudEvent: its context attributes and its data.

    ``data`` is a JSON value (the default ``datacontenttype`` is JSON), a ``str`` for another
    text media type, ``bytes`` (serialised as ``data_base64``), or :data:`NO_DATA`.
    """

    id: str
    source: str
    type: str
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = "application/json"
    dataschema: str | None = None
    data: Any = NO_DATA
    extensions: Mapping[str, ExtensionValue] = field(default_factory=lambda: MappingProxyType({}))
    specversion: str = SPECVERSION

    def attributes(self) -> dict[str, ExtensionValue]:
        """Every context attribute that is set, core and extension, by name."""
        out: dict[str, ExtensionValue] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        for name in OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out.update(self.extensions)
        return out


def is_json_media_type(media_type: str | None) -> bool:
    """json-format §3.1.1: ``*/json`` or ``*/*+json`` (parameters ignored); unset means JSON."""
    if media_type is None:
        return True
    essence = media_type.split(";", 1)[0].strip().lower()
    _, _, subtype = essence.partition("/")
    return subtype == "json" or subtype.endswith("+json")


# --- the type system (spec.md §"Type System") ------------------------------------------------


def check_string(value: object, what: str) -> str:
    """A CloudEvents ``String``: no control characters (U+0000-001F, U+007F-009F), no
    noncharacters, no unpaired surrogates."""
    if not isinstance(value, str):
        raise InputError("malformed", f"{what} must be a string")
    # One regex scan finds the first bad character (a per-character Python loop cost a
    # fan-out ~20 us per attribute); the checks below only name what it is.
    bad = _NOT_STRING.search(value)
    if bad is not None:
        cp = ord(bad.group())
        if cp <= 0x1F or 0x7F <= cp <= 0x9F:
            raise InputError("malformed", f"{what} holds a control character")
        if 0xD800 <= cp <= 0xDFFF:
            raise InputError("malformed", f"{what} holds an unpaired surrogate")
        raise InputError("malformed", f"{what} holds a Unicode noncharacter")
    return value


def check_uri_reference(value: object, what: str, *, absolute: bool = False) -> str:
    """A ``URI-reference`` (RFC 3986 §4.1), or with ``absolute`` a ``URI`` (§4.3, a scheme)."""
    text = check_string(value, what)
    if not _URI_CHARS.fullmatch(text) or _PCT.search(text):
        raise InputError("malformed", f"{what} is not an RFC 3986 URI reference")
    if absolute and (not _SCHEME.match(text) or "#" in text):
        raise InputError("malformed", f"{what} must be an absolute URI (RFC 3986 §4.3)")
    return text


def check_timestamp(value: object, what: str) -> str:
    """An RFC 3339 date-time (§5.6), calendar-valid."""
    text = check_string(value, what)
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise InputError("malformed", f"{what} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        datetime(year, month, day, hour, minute, min(second, 59))  # RFC 3339 allows :60
    except ValueError as exc:
        raise InputError("malformed", f"{what} is not a calendar date and time") from exc
    if second > 60:
        raise InputError("malformed", f"{what} has a second out of range")
    return text


def check_media_type(value: object, what: str) -> str:
    """An RFC 2046 media type, ``type/subtype`` with optional parameters."""
    text = check_string(value, what)
    if not _MEDIA.fullmatch(text.strip()):
        raise InputError("malformed", f"{what} is not an RFC 2046 media type")
    return text


def check_attribute_name(name: str, *, producer: bool = False) -> str:
    """spec.md §"Naming Conventions": lower-case ASCII letters and digits, at least one, never
    ``data``. A producer also keeps the SHOULDs: a letter first, at most 20 characters."""
    pattern = _PRODUCER_NAME if producer else _NAME
    if not pattern.fullmatch(name) or name == "data":
        rule = "[a-z][a-z0-9]{0,19}" if producer else "[a-z0-9]+"
        raise InputError("malformed", f"attribute name {name[:40]!r} does not match {rule}")
    return name


def _extension_value(name: str, value: object) -> ExtensionValue:
    # json-format §2.2: Boolean, Integer (int32), String (and the string-encoded URI,
    # URI-reference, Binary and Timestamp types) are the JSON values an attribute may take.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT32[0] <= value <= _INT32[1]:
            raise InputError("malformed", f"extension {name} is outside the Integer range")
        return value
    if isinstance(value, str):
        return check_string(value, f"extension {name}")
    raise InputError("malformed", f"extension {name} must be a boolean, an integer or a string")


# --- producing ---------------------------------------------------------------------------


def validate(event: CloudEvent) -> CloudEvent:
    """Return ``event`` if it is one this platform may send (every MUST and the SHOULDs a
    producer keeps), else raise ``malformed``."""
    # 1. REQUIRED attributes: non-empty, typed (spec.md §"REQUIRED Attributes").
    if event.specversion != SPECVERSION:
        raise InputError("malformed", f"specversion must be {SPECVERSION}")
    for name in ("id", "type"):
        if not check_string(getattr(event, name), name):
            raise InputError("malformed", f"{name} must be a non-empty string")
    if not event.source:
        raise InputError("malformed", "source must be a non-empty URI-reference")
    check_uri_reference(event.source, "source", absolute=True)  # absolute is RECOMMENDED
    # 2. OPTIONAL attributes, when set.
    if event.subject is not None and not check_string(event.subject, "subject"):
        raise InputError("malformed", "subject must be non-empty when present")
    if event.time is not None:
        check_timestamp(event.time, "time")
    if event.dataschema is not None:
        check_uri_reference(event.dataschema, "dataschema", absolute=True)
    if event.datacontenttype is not None:
        check_media_type(event.datacontenttype, "datacontenttype")
    # 3. extensions: the same naming rules and type system, no clash with core attributes.
    for name, value in event.extensions.items():
        check_attribute_name(name, producer=True)
        if name in _CORE:
            raise InputError("malformed", f"extension {name} clashes with a core attribute")
        _extension_value(name, value)
    # 4. data: text for a non-JSON media type (json-format §3.1.1).
    if (
        not isinstance(event.data, (bytes, _NoData))
        and not is_json_media_type(event.datacontenttype)
        and not isinstance(event.data, str)
    ):
        raise InputError("malformed", "data of a non-JSON media type must be text or bytes")
    return event


def encode(event: CloudEvent) -> bytes:
    """The event in the structured JSON mode (json-format §3): compact UTF-8 JSON."""
    validate(event)
    envelope: dict[str, Any] = dict(event.attributes())
    if isinstance(event.data, bytes):
        # json-format §3.1.1: binary data goes in data_base64 (RFC 4648 base64).
        envelope["data_base64"] = base64.b64encode(event.data).decode("ascii")
    elif not isinstance(event.data, _NoData):
        envelope["data"] = event.data
    body = json_dumps(envelope)
    if len(body) > MAX_EVENT_BYTES:
        raise InputError("too_large", f"an event is at most {MAX_EVENT_BYTES} bytes")
    return body


# --- consuming ---------------------------------------------------------------------------


def parse(  # noqa: PLR0912 - one branch per numbered rule of the spec
    body: bytes | str, *, max_bytes: int = MAX_EVENT_BYTES
) -> CloudEvent:
    """Read one structured-mode CloudEvent strictly; raise ``malformed`` or ``too_large``."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > max_bytes:
        raise InputError("too_large", f"an event is at most {max_bytes} bytes")
    # 1. a JSON object, each member once (spec.md §"Context Attributes": at most once).
    members = json_object_strict(raw)
    # 2. null is the same as absent (json-format §2.2).
    members = {k: v for k, v in members.items() if v is not None or k == "data"}
    # 3. specversion first: its value decides how the rest is read.
    specversion = members.pop("specversion", None)
    if specversion != SPECVERSION:
        raise InputError("unsupported", f"specversion must be {SPECVERSION!r}")
    # 4. REQUIRED attributes, non-empty.
    values: dict[str, Any] = {}
    for name in ("id", "source", "type"):
        value = members.pop(name, None)
        if value is None:
            raise InputError("malformed", f"the required attribute {name} is missing")
        if name == "source":
            check_uri_reference(value, "source")
        else:
            check_string(value, name)
        if not value:
            raise InputError("malformed", f"{name} must not be empty")
        values[name] = value
    # 5. OPTIONAL attributes, typed.
    datacontenttype = members.pop("datacontenttype", None)
    if datacontenttype is not None:
        check_media_type(datacontenttype, "datacontenttype")
    dataschema = members.pop("dataschema", None)
    if dataschema is not None:
        if not dataschema:
            raise InputError("malformed", "dataschema must be a non-empty URI")
        check_uri_reference(dataschema, "dataschema", absolute=True)
    subject = members.pop("subject", None)
    if subject is not None and not check_string(subject, "subject"):
        raise InputError("malformed", "subject must be non-empty when present")
    time = members.pop("time", None)
    if time is not None:
        check_timestamp(time, "time")
    # 6. data xor data_base64 (json-format §3.1.2).
    data: Any = NO_DATA
    if "data" in members and "data_base64" in members:
        raise InputError("malformed", "data and data_base64 are mutually exclusive")
    if "data_base64" in members:
        encoded = members.pop("data_base64")
        if not isinstance(encoded, str):
            raise InputError("malformed", "data_base64 must be a base64 string")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError("malformed", "data_base64 is not base64 (RFC 4648)") from exc
    elif "data" in members:
        data = members.pop("data")
        if not is_json_media_type(datacontenttype) and not isinstance(data, str):
            raise InputError("malformed", "data of a non-JSON media type must be a string")
    # 7. everything left is an extension attribute: named and typed by the same rules.
    extensions = {
        check_attribute_name(name): _extension_value(name, value) for name, value in members.items()
    }
    return CloudEvent(
        id=values["id"],
        source=values["source"],
        type=values["type"],
        subject=subject,
        time=time,
        datacontenttype=datacontenttype,
        dataschema=dataschema,
        data=data,
        extensions=MappingProxyType(extensions),
    )
