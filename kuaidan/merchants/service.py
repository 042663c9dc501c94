"""Merchant use cases: create and look up merchant profiles.

Writes open ``uow.atomic()``. Reads take no write lock: they join the caller's transaction
when there is one, and otherwise run in the session's implicit read transaction.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.exc import IntegrityError

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, NotFound
from kuaidan.core.pagination import PageOf, PageRequest
from kuaidan.merchants import repository
from kuaidan.merchants.domain import (
    DEFAULT_CREDIT_SCORE,
    MerchantInfo,
    MerchantStatus,
    check_name,
    check_slug,
)
from kuaidan.merchants.models import Merchant


def _info(row: Merchant) -> MerchantInfo:
    return MerchantInfo(
        id=row.id,
        slug=row.slug,
        name=row.name,
        name_en=row.name_en,
        description=row.description,
        logo_path=row.logo_path,
        status=MerchantStatus(row.status),
        credit_score=row.credit_score,
        created_at=row.created_at,
    )


async def create_merchant(
    *, uow: UnitOfWork, slug: str, name: str, name_en: str, description: str = ""
) -> MerchantInfo:
    """Open a new, active merchant; a taken slug is a Conflict."""
    slug = check_slug(slug)
    row = Merchant(
        slug=slug,
        name=check_name(name, field="name"),
        name_en=check_name(name_en, field="name_en"),
        description=description.strip(),
        status=MerchantStatus.ACTIVE.value,
        credit_score=DEFAULT_CREDIT_SCORE,
        created_at=uow.now(),
    )
    async with uow.atomic():
        if await repository.by_slug(uow.session, slug) is not None:
            raise Conflict(f"the merchant slug {slug!r} is taken", details={"slug": slug})
        try:
            await repository.add(uow.session, row)
        except IntegrityError as exc:  # a concurrent insert won the race
            raise Conflict(f"the merchant slug {slug!r} is taken") from exc
        return _info(row)


async def get_merchant(*, uow: UnitOfWork, merchant_id: int) -> MerchantInfo:
    row = await repository.by_id(uow.session, merchant_id)
    if row is None:
        raise NotFound(f"no merchant {merchant_id}")
    return _info(row)


async def get_merchant_by_slug(*, uow: UnitOfWork, slug: str) -> MerchantInfo | None:
    row = await repository.by_slug(uow.session, slug)
    return _info(row) if row is not None else None


async def get_merchants(*, uow: UnitOfWork, ids: Collection[int]) -> dict[int, MerchantInfo]:
    """The merchants with the given ids (unknown ids are simply absent)."""
    rows = await repository.by_ids(uow.session, set(ids))
    return {row.id: _info(row) for row in rows}


async def list_merchants(
    *,
    uow: UnitOfWork,
    page: PageRequest,
    status: MerchantStatus | None = MerchantStatus.ACTIVE,
) -> PageOf[MerchantInfo]:
    """Merchants in id order; by default only active ones (what buyers may see)."""
    rows, total = await repository.page(
        uow.session, status=status.value if status else None, offset=page.offset, limit=page.size
    )
    return PageOf([_info(r) for r in rows], total=total, page=page.page, size=page.size)
