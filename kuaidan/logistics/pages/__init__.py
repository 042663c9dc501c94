"""HTML routes of logistics: the exception cases console and the carriers console with its
scorecards (platform admins), and the merchant's task list of its own shipments' cases.

Forms carry the CSRF token; a refused change shows the page again with the message and the
error's 4xx status; a case or carrier that does not exist (or is another shop's) is a 404.
"""

from __future__ import annotations

from kuaidan.logistics.pages import carriers, cases
from kuaidan.logistics.pages._common import router

__all__ = ["carriers", "cases", "router"]
