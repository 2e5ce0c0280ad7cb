"""The NATS engine's messages: a relay batch becomes per-partition chunks of deliveries, in
seq order, each read back exactly, and named by its seqs so that a restarted relay's copy is
dropped as a duplicate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack.events.deliveries import Delivery, lane_of, partition_of
from civicstack.services.notifications.nats_engine import (
    CHUNK,
    chunk_id,
    chunks,
    decode_deliveries,
    encode_deliveries,
)

_ID = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=40)


def _delivery(seq: int, subscription: str, subject: str, body: bytes) -> Delivery:
    lane = lane_of(subscription, subject)
    return Delivery(
        seq=seq,
        id=f"msg_{seq}",
        event_id="evt_1",
        event_type="uk.civicstack.address.changed",
        subscription_id=subscription,
        lane=lane,
        partition=partition_of(lane),
        body=body,
        state="queued",
        attempts=0,
        next_at=0.0,
        created_at=0.0,
    )


_DELIVERIES = st.lists(
    st.tuples(_ID, st.text(max_size=30), st.binary(max_size=600)), min_size=1, max_size=120
).map(
    lambda rows: [
        _delivery(i + 1, sub, subject, body) for i, (sub, subject, body) in enumerate(rows)
    ]
)


@given(_DELIVERIES)
def test_every_delivery_is_carried_once_in_order_per_partition(batch: list[Delivery]) -> None:
    """Each chunk holds one partition's deliveries (at most CHUNK), ascending by seq, and the
    chunks together carry the batch exactly; what a chunk encodes decodes to the same fields."""
    carried = []
    for chunk in chunks(batch):
        assert 1 <= len(chunk) <= CHUNK
        assert len({d.partition for d in chunk}) == 1
        assert [d.seq for d in chunk] == sorted(d.seq for d in chunk)
        decoded = decode_deliveries(encode_deliveries(chunk))
        assert [(w.seq, w.delivery_id, w.subscription, w.lane, w.body) for w in decoded] == [
            (d.seq, d.id, d.subscription_id, d.lane, d.body) for d in chunk
        ]
        carried.extend(d.seq for d in chunk)
    assert sorted(carried) == [d.seq for d in batch]


@given(_DELIVERIES)
def test_the_same_batch_gets_the_same_message_ids(batch: list[Delivery]) -> None:
    """A relay that read the same batch again publishes the same ids (JetStream drops the
    copies); the ids within a batch are distinct."""
    first = [chunk_id(c) for c in chunks(batch)]
    assert first == [chunk_id(c) for c in chunks(list(batch))]
    assert len(set(first)) == len(first)


@pytest.mark.parametrize(
    "data",
    [b"1 msg_1 sub_1 3 10\nabc0123", b"1 msg_1 sub_1\nabc", b"x msg_1 sub_1 0 0\n", b"1 2 3 4 5"],
)
def test_a_malformed_message_is_refused(data: bytes) -> None:
    """Truncated or garbled framing raises ValueError (the message is terminated, never
    half-delivered)."""
    with pytest.raises(ValueError):  # noqa: PT011 - the framing's one error
        decode_deliveries(data)
