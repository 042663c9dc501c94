"""The address book: personal parts encrypted, province and city in clear, one default."""

from __future__ import annotations

from kuaidan.accounts import repository
from kuaidan.accounts.domain import (
    MAX_ADDRESSES,
    AddressInfo,
    clean_address_text,
    clean_postcode,
)
from kuaidan.accounts.models import Address
from kuaidan.accounts.service._common import (
    ADDRESS,
    address_info,
    blind_phone_index,
    clean_phone,
    require_user,
)
from kuaidan.core.crypto import Cipher
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, NotFound


def _apply_address(cipher: Cipher, row: Address, fields: dict[str, str | None]) -> None:
    """Validate and write the given fields (absent keys stay as they are)."""
    if (recipient := fields.get("recipient")) is not None:
        row.recipient_enc = cipher.encrypt(
            clean_address_text("recipient", recipient), context="addresses.recipient"
        )
    if (phone := fields.get("phone")) is not None:
        number = clean_phone(phone)
        row.phone_enc = cipher.encrypt(number, context="addresses.phone")
        row.phone_index = blind_phone_index(cipher, number)
    if (province := fields.get("province")) is not None:
        row.province = clean_address_text("province", province)
    if (city := fields.get("city")) is not None:
        row.city = clean_address_text("city", city)
    if (district := fields.get("district")) is not None:
        text = clean_address_text("district", district)
        row.district_enc = cipher.encrypt(text, context="addresses.district") if text else None
    if (line := fields.get("line")) is not None:
        row.line_enc = cipher.encrypt(clean_address_text("line", line), context="addresses.line")
    if "postcode" in fields:
        row.postcode = clean_postcode(fields["postcode"])


async def add_address(
    *,
    uow: UnitOfWork,
    user_id: int,
    recipient: str,
    phone: str,
    province: str,
    city: str,
    line: str,
    district: str = "",
    postcode: str | None = None,
    is_default: bool = False,
) -> AddressInfo:
    """Add an address; the first one, or one marked so, becomes the default."""
    row = Address(user_id=user_id)
    fields: dict[str, str | None] = {
        "recipient": recipient,
        "phone": phone,
        "province": province,
        "city": city,
    }
    fields |= {"district": district, "line": line, "postcode": postcode}
    _apply_address(uow.cipher, row, fields)
    async with uow.atomic():
        user = await require_user(uow, user_id, for_update=True)
        count = await repository.count_addresses(uow.session, user_id=user_id)
        if count >= MAX_ADDRESSES:
            raise Conflict(f"an address book holds at most {MAX_ADDRESSES} addresses")
        if count:
            user.address_changed_at = uow.now()
        row.is_default = is_default or count == 0
        if row.is_default:
            await repository.clear_default_address(uow.session, user_id=user_id)
        row.created_at = uow.now()
        await repository.add_address(uow.session, row)
    return address_info(uow.cipher, row)


async def list_addresses(*, uow: UnitOfWork, user_id: int) -> list[AddressInfo]:
    """The user's addresses, the default first, then the newest."""
    rows = await repository.list_addresses(uow.session, user_id=user_id)
    return [address_info(uow.cipher, row) for row in rows]


async def get_address(*, uow: UnitOfWork, user_id: int, address_id: int) -> AddressInfo:
    """One of the user's addresses (checkout uses this); NotFound for anyone else's."""
    row = await repository.get_address(uow.session, user_id=user_id, address_id=address_id)
    if row is None:
        raise NotFound("no such address")
    return address_info(uow.cipher, row)


async def update_address(
    *,
    uow: UnitOfWork,
    user_id: int,
    address_id: int,
    recipient: str | None = None,
    phone: str | None = None,
    province: str | None = None,
    city: str | None = None,
    district: str | None = None,
    line: str | None = None,
    postcode: str | None = None,
    is_default: bool | None = None,
) -> AddressInfo:
    """Change what is given; ``None`` keeps a field, ``""`` clears the district or postcode."""
    fields: dict[str, str | None] = {"recipient": recipient, "phone": phone}
    fields |= {"province": province, "city": city, "district": district, "line": line}
    if postcode is not None:
        fields["postcode"] = postcode
    async with uow.atomic():
        row = await repository.get_address(
            uow.session, user_id=user_id, address_id=address_id, for_update=True
        )
        if row is None:
            raise NotFound("no such address")
        _apply_address(uow.cipher, row, fields)
        await repository.mark_changed(uow.session, user_id=user_id, field=ADDRESS, now=uow.now())
        if is_default and not row.is_default:
            await repository.clear_default_address(uow.session, user_id=user_id)
        if is_default is not None:
            row.is_default = is_default
    return address_info(uow.cipher, row)


async def delete_address(*, uow: UnitOfWork, user_id: int, address_id: int) -> None:
    """Remove an address; if it was the default, the newest remaining one takes its place."""
    async with uow.atomic():
        row = await repository.get_address(
            uow.session, user_id=user_id, address_id=address_id, for_update=True
        )
        if row is None:
            raise NotFound("no such address")
        was_default = row.is_default
        await repository.delete_address(uow.session, row)
        await repository.mark_changed(uow.session, user_id=user_id, field=ADDRESS, now=uow.now())
        if was_default:
            successor = await repository.newest_address(uow.session, user_id=user_id)
            if successor is not None:
                successor.is_default = True
