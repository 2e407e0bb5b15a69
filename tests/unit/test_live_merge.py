"""Stored and live events merged by `seq` (edge/live/merge.py): each delivered once, in order, and a
gap found before the event that reveals it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from domain.orders.schemas import OrderChange, OrderEventOut
from domain.orders.status import OrderEventKind, OrderStatus
from edge.live.merge import Delivered

ORDER = uuid.UUID("6d340350-2bbc-4830-aea6-1ad4ba58605e")
OTHER = uuid.UUID("0b7c8b5e-5f8e-4a43-9a55-2f3c1f0e9d11")


def change(seq: int, order_id: uuid.UUID = ORDER) -> OrderChange:
    event = OrderEventOut(
        seq=seq,
        kind=OrderEventKind.STATUS_CHANGED if seq > 1 else OrderEventKind.CREATED,
        status=OrderStatus.PENDING,
        previous_status=None,
        at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    return OrderChange(order_id=order_id, user_id=7, event=event)


def seqs(changes: list[OrderChange]) -> list[tuple[uuid.UUID, int]]:
    return [(c.order_id, c.event.seq) for c in changes]


def test_a_resumed_stream_takes_only_what_follows_its_position() -> None:
    delivered = Delivered()
    delivered.start(ORDER, 2)

    assert seqs(delivered.take([change(1), change(2), change(3), change(4)])) == [
        (ORDER, 3),
        (ORDER, 4),
    ]


def test_a_live_event_already_filled_in_from_the_table_is_dropped() -> None:
    delivered = Delivered()
    delivered.take([change(1), change(2), change(3)])

    assert delivered.take([change(3)]) == []
    assert delivered.take([change(2)]) == []
    assert seqs(delivered.take([change(4)])) == [(ORDER, 4)]


def test_an_event_past_the_next_reveals_the_gap_before_it() -> None:
    delivered = Delivered()
    delivered.take([change(1), change(2)])

    assert delivered.gap_before(change(3)) is None
    assert delivered.gap_before(change(5)) == 2
    assert delivered.gap_before(change(2)) is None  # a duplicate, not a gap


def test_the_first_event_of_an_order_never_known_is_no_gap() -> None:
    assert Delivered().gap_before(change(9)) is None


def test_the_orders_are_tracked_apart_and_a_resync_reads_from_each_position() -> None:
    delivered = Delivered()
    delivered.start(ORDER, 0)
    delivered.take([change(1), change(1, OTHER), change(2, OTHER), change(2)])

    assert sorted(delivered.positions()) == sorted([(ORDER, 2), (OTHER, 2)])
    assert seqs(delivered.take([change(3, OTHER), change(2), change(3)])) == [
        (OTHER, 3),
        (ORDER, 3),
    ]
