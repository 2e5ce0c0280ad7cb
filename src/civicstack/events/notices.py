"""Notices: what happened, about whom, and the CloudEvent each organisation is sent about it.

A :class:`Notice` is the platform's record of one occurrence (a change of address reported,
a birth registered, a test ping): its type, when, the citizen it is about (a
:class:`~civicstack.pairwise.Subject`, never sent), which fields changed, the new value, and
where an organisation fetches that value through the consented, access-logged exchange.

Each organisation told is sent its own CloudEvent (:func:`render`): the ``subject`` attribute is
the citizen's pairwise identifier *for that organisation* (OIDC Core §8.1, see
:mod:`civicstack.pairwise`), so two subscribers cannot link what they receive. The payload is
*thin* by default (Standard Webhooks §"Thin vs full payloads": what changed and a URL to fetch
it, so every read of the value is a consented, logged access) or *full* where the citizen's
consent allows the value itself. CloudEvents spec.md §"Privacy and Security": no personal data
in context attributes beyond the pseudonymous subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from civicstack.errors import InputError
from civicstack.events.cloudevents import CloudEvent
from civicstack.pairwise import Subject

#: The event types organisations may subscribe to (Standard Webhooks §"Event types":
#: full-stop delimited ``[a-z0-9_]`` identifiers; CloudEvents ``type`` SHOULD be prefixed with
#: a reverse-DNS name). Services that publish a new kind of notice add its type here.
EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "uk.civicstack.address.changed": "A citizen's address changed",
        "uk.civicstack.name.changed": "A citizen's name changed",
        "uk.civicstack.contact.changed": "A citizen's contact details changed",
        "uk.civicstack.birth.registered": "A birth was registered",
        "uk.civicstack.death.registered": "A death was registered",
        "uk.civicstack.company.office.changed": "A company's registered office changed",
        "uk.civicstack.webhook.test": "A test event sent to one endpoint on request",
    }
)
TEST_EVENT_TYPE: Final = "uk.civicstack.webhook.test"
_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+){1,7}")
_FIELD = re.compile(r"[a-z][a-z0-9_-]{0,63}")

Representation = Literal["thin", "full"]


def check_event_type(value: str) -> str:
    """A known event type (``invalid_request`` naming the known ones otherwise)."""
    if not _TYPE.fullmatch(value) or value not in EVENT_TYPES:
        raise InputError(
            "invalid_request", f"unknown event type; known types: {', '.join(EVENT_TYPES)}"
        )
    return value


@dataclass(frozen=True)
class Notice:
    """One occurrence to tell subscribers about.

    ``fetch`` is a URL template with ``{subject}`` where the organisation's pairwise id goes:
    the exchange endpoint a thin event points at. ``subject`` is None for notices about no
    citizen (the test event).
    """

    id: str
    type: str
    source: str
    time: int
    subject: Subject | None = None
    changed: tuple[str, ...] = ()
    value: Mapping[str, Any] | None = None
    fetch: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        check_event_type(self.type)
        for name in self.changed:
            if not _FIELD.fullmatch(name):
                raise InputError("invalid_request", f"changed field {name[:40]!r} is malformed")
        if self.fetch is not None and "{subject}" not in self.fetch:
            raise InputError("invalid_request", "a fetch URL template names {subject}")


@dataclass(frozen=True)
class Audience:
    """How one organisation may be told about a notice: by which pairwise id, and whether the
    value itself may travel (``full``) or only a link to it (``thin``)."""

    subject: str | None
    representation: Representation = "thin"


def rfc3339(seconds: int) -> str:
    """A Unix time as an RFC 3339 UTC timestamp."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render(notice: Notice, audience: Audience) -> CloudEvent:
    """The CloudEvent one organisation is sent about ``notice``."""
    data: dict[str, Any] = {"representation": audience.representation}
    if notice.changed:
        data["changed"] = list(notice.changed)
    if audience.representation == "full" and notice.value is not None:
        data["value"] = dict(notice.value)
    elif notice.fetch is not None and audience.subject is not None:
        data["href"] = notice.fetch.replace("{subject}", audience.subject)
    data.update(notice.extra)
    return CloudEvent(
        id=notice.id,
        source=notice.source,
        type=notice.type,
        subject=audience.subject,
        time=rfc3339(notice.time),
        data=data,
    )
