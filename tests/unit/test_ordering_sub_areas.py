"""The ordering core knows a held parcel only from the order's timeline: the interception
sub-area writes each step there as ``interception_<status>``, and the core's lists of the
steps that hold and release the parcel name exactly the sub-area's open and finished ones."""

from __future__ import annotations

from kuaidan.ordering.domain import PARCEL_HELD_ACTIONS, PARCEL_RELEASED_ACTIONS
from kuaidan.ordering.interception.domain import OPEN, InterceptionStatus


def test_the_steps_that_hold_a_parcel_are_the_open_interception_statuses() -> None:
    assert set(PARCEL_HELD_ACTIONS) == {f"interception_{s.value}" for s in OPEN}


def test_every_other_interception_status_releases_the_parcel() -> None:
    finished = {f"interception_{s.value}" for s in InterceptionStatus if s not in OPEN}
    assert set(PARCEL_RELEASED_ACTIONS) == finished
