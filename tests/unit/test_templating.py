"""Times on pages: stored in UTC, shown in the configured display zone."""

from __future__ import annotations

from datetime import UTC, datetime

from kuaidan.core.templating import templates

NOON_UTC = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_times_show_in_the_page_display_zone() -> None:
    page = templates.env.from_string("{{ at | localtime }}")
    assert page.render(at=NOON_UTC, display_zone="Asia/Shanghai") == "2026-11-25 20:00"
    assert page.render(at=NOON_UTC, display_zone="Europe/London") == "2026-11-25 12:00"
    assert page.render(at=NOON_UTC, display_zone="America/New_York") == "2026-11-25 07:00"


def test_an_explicit_zone_wins_and_a_missing_time_shows_nothing() -> None:
    page = templates.env.from_string("{{ at | localtime('Asia/Tokyo') }}|{{ none | localtime }}")
    assert page.render(at=NOON_UTC, none=None, display_zone="Europe/London") == (
        "2026-11-25 21:00|"
    )


def test_without_a_display_zone_the_default_is_china_time() -> None:
    assert templates.env.from_string("{{ at | localtime }}").render(at=NOON_UTC) == (
        "2026-11-25 20:00"
    )
