"""CloudEvents 1.0 structured JSON: what we write follows the spec and an independent SDK reads
it; what we read is checked against every MUST (spec.md, formats/json-format.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from hypothesis import given
from hypothesis import strategies as st

from civicstack.errors import CivicError
from civicstack.events import NO_DATA, Audience, CloudEvent, Notice, encode, parse, render
from civicstack.events.cloudevents import MAX_EVENT_BYTES
from civicstack.pairwise import Subject

GOOD: dict[str, Any] = {
    "specversion": "1.0",
    "id": "evt_1",
    "source": "https://platform.example/events",
    "type": "uk.civicstack.address.changed",
    "subject": "abc",
    "time": "2026-01-01T00:00:00Z",
    "datacontenttype": "application/json",
    "data": {"changed": ["address"]},
}


def _notice() -> Notice:
    return Notice(
        id="evt_7",
        type="uk.civicstack.address.changed",
        source="https://platform.example/events",
        time=1_767_225_600,
        subject=Subject("GB", "QQ123456C"),
        changed=("address",),
        value={"uprn": "100"},
        fetch="https://platform.example/exchange/address?subject={subject}",
    )


def test_thin_event_links_to_the_value_and_names_only_the_pairwise_subject() -> None:
    """A thin event carries what changed and a URL with the organisation's pairwise id; the
    value and the citizen's number stay out."""
    body = encode(render(_notice(), Audience("pairwise-at-org", "thin")))
    event = json.loads(body)
    assert event["subject"] == "pairwise-at-org"
    assert event["data"]["href"].endswith("subject=pairwise-at-org")
    assert "value" not in event["data"]
    assert b"QQ123456C" not in body


def test_full_event_carries_the_value() -> None:
    """Where the consent allows it, the value itself travels."""
    event = json.loads(encode(render(_notice(), Audience("p", "full"))))
    assert event["data"]["value"] == {"uprn": "100"}
    assert "href" not in event["data"]


def test_the_cloudevents_sdk_reads_what_we_write() -> None:
    """An independent parser (the cloudevents SDK) reads our envelope to the same attributes."""
    body = encode(render(_notice(), Audience("p", "thin")))
    event = JSONFormat().read(None, body)
    attributes = event.get_attributes()
    assert attributes["id"] == "evt_7"
    assert attributes["type"] == "uk.civicstack.address.changed"
    assert attributes["subject"] == "p"
    assert event.get_data()["changed"] == ["address"]


def test_round_trip_with_extensions_and_binary_data() -> None:
    """Extensions are top-level members; bytes travel as data_base64 (json-format §3.1.1)."""
    event = CloudEvent(
        id="1",
        source="urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        type="t",
        datacontenttype="application/octet-stream",
        data=b"\x00\x01",
        extensions={"comexample": 5, "flag": True},
    )
    again = parse(encode(event))
    assert again.data == b"\x00\x01"
    assert dict(again.extensions) == {"comexample": 5, "flag": True}


def test_null_attributes_are_absent() -> None:
    """json-format §2.2: null is the same as unset."""
    event = parse(json.dumps({**GOOD, "subject": None, "time": None, "unsetext": None}))
    assert event.subject is None
    assert event.time is None
    assert not event.extensions


def test_no_data_is_distinct_from_null_data() -> None:
    """Absent ``data`` and explicit ``null`` differ (json-format §3.1.1)."""
    without = {k: v for k, v in GOOD.items() if k != "data"}
    assert parse(json.dumps(without)).data is NO_DATA
    assert parse(json.dumps({**GOOD, "data": None})).data is None


BAD: list[tuple[str, dict[str, Any]]] = [
    ("missing id", {k: v for k, v in GOOD.items() if k != "id"}),
    ("missing source", {k: v for k, v in GOOD.items() if k != "source"}),
    ("missing type", {k: v for k, v in GOOD.items() if k != "type"}),
    ("empty id", {**GOOD, "id": ""}),
    ("empty subject", {**GOOD, "subject": ""}),
    ("specversion 0.3", {**GOOD, "specversion": "0.3"}),
    ("missing specversion", {k: v for k, v in GOOD.items() if k != "specversion"}),
    ("id not a string", {**GOOD, "id": 5}),
    ("control character", {**GOOD, "subject": "a\nb"}),
    ("C1 control character", {**GOOD, "subject": "a\x85b"}),
    ("noncharacter", {**GOOD, "subject": "a\ufdd0"}),
    ("source with a space", {**GOOD, "source": "https://a b"}),
    ("bad percent-encoding", {**GOOD, "source": "/a%zz"}),
    ("time not RFC 3339", {**GOOD, "time": "2026-01-01 00:00:00"}),
    ("time not a date", {**GOOD, "time": "2026-02-30T00:00:00Z"}),
    ("relative dataschema", {**GOOD, "dataschema": "/schema"}),
    ("bad media type", {**GOOD, "datacontenttype": "json"}),
    ("upper-case extension", {**GOOD, "ExtName": "x"}),
    ("extension with a dash", {**GOOD, "ext-name": "x"}),
    ("extension object", {**GOOD, "ext": {"a": 1}}),
    ("extension float", {**GOOD, "ext": 1.5}),
    ("extension beyond int32", {**GOOD, "ext": 2**31}),
    ("data and data_base64", {**GOOD, "data_base64": "AA=="}),
    (
        "data_base64 not base64",
        {**{k: v for k, v in GOOD.items() if k != "data"}, "data_base64": "!!"},
    ),
    ("xml data not a string", {**GOOD, "datacontenttype": "application/xml", "data": {"a": 1}}),
]


@pytest.mark.parametrize(("why", "envelope"), BAD, ids=[b[0] for b in BAD])
def test_bad_envelopes_are_refused(why: str, envelope: dict[str, Any]) -> None:
    """Each broken MUST is refused with a coded error."""
    with pytest.raises(CivicError) as caught:
        parse(json.dumps(envelope))
    assert caught.value.code in ("malformed", "unsupported")


def test_duplicate_members_and_oversize_are_refused() -> None:
    """An attribute appears at most once; events are at most 64 KiB (§"Size Limits")."""
    with pytest.raises(CivicError):
        parse(b'{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}')
    with pytest.raises(CivicError) as caught:
        parse(b" " * (MAX_EVENT_BYTES + 1))
    assert caught.value.code == "too_large"


def test_producer_keeps_the_shoulds() -> None:
    """What we send has extension names starting with a letter, at most 20 characters, and
    an absolute source."""
    with pytest.raises(CivicError):
        encode(CloudEvent(id="1", source="/relative", type="t"))
    with pytest.raises(CivicError):
        encode(CloudEvent(id="1", source="https://a", type="t", extensions={"1abc": "x"}))
    with pytest.raises(CivicError):
        encode(CloudEvent(id="1", source="https://a", type="t", extensions={"a" * 21: "x"}))
    with pytest.raises(CivicError):
        encode(CloudEvent(id="1", source="https://a", type="t", extensions={"time": "x"}))


@given(
    subject=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn")),
        min_size=1,
        max_size=40,
    ),
    data=st.recursive(
        st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    ),
)
def test_round_trip_property(subject: str, data: Any) -> None:
    """Any valid subject and JSON data survive encode then parse."""
    event = CloudEvent(id="1", source="https://a.example/", type="t", subject=subject, data=data)
    try:
        body = encode(event)
    except CivicError:
        return  # a noncharacter drawn: refused on the way out, as the spec says
    again = parse(body)
    assert again.subject == subject
    assert again.data == data
