"""Every order action and timeline entry has a plain label on the pages (no raw codes)."""

from __future__ import annotations

from kuaidan.core.templating import templates
from kuaidan.ordering.aftersales.domain import CaseStatus
from kuaidan.ordering.domain import OrderAction, TimelineAction
from kuaidan.ordering.interception.domain import InterceptionStatus


def _labels() -> dict[str, str]:
    labels: dict[str, str] = templates.env.get_template(
        "ordering/_macros.html"
    ).module.action_labels  # type: ignore[attr-defined]
    return labels


def test_every_state_machine_action_and_timeline_entry_has_a_label() -> None:
    labels = _labels()
    missing = [a.value for a in (*OrderAction, *TimelineAction) if a.value not in labels]
    assert missing == []


def test_every_interception_step_has_a_label() -> None:
    labels = _labels()
    missing = [s.value for s in InterceptionStatus if f"interception_{s.value}" not in labels]
    assert missing == []


def test_every_after_sales_step_has_a_label() -> None:
    labels = _labels()
    wanted = [f"after_sales_{s.value}" for s in CaseStatus]
    wanted += ["after_sales_replacement", "refund_requested", "refunded"]
    assert [name for name in wanted if name not in labels] == []
