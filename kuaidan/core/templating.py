"""Jinja2 environment shared by every area's pages (templates live in kuaidan/web/templates)."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.responses import Response

from kuaidan.core.money import format_minor

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.globals["money"] = format_minor


DEFAULT_ZONE = "Asia/Shanghai"


@pass_context
def _local_time(context: Context, value: datetime | None, zone: str | None = None) -> str:
    """A UTC time shown in ``zone``, or else the page's display zone (the ``timezone``
    setting, put in every page's context by :func:`render`)."""
    if value is None:
        return ""
    shown = zone or context.get("display_zone") or DEFAULT_ZONE
    return value.astimezone(ZoneInfo(shown)).strftime("%Y-%m-%d %H:%M")


templates.env.filters["money"] = format_minor
templates.env.filters["localtime"] = _local_time


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """Render a page with the current user and a CSRF token available to every template."""
    container = getattr(request.app.state, "container", None)
    ctx: dict[str, Any] = {
        "current_user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request),
        "display_zone": container.settings.timezone if container is not None else DEFAULT_ZONE,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)
