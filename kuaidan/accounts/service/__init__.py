"""Account use cases: users, log-in and lockout, page sessions, API tokens, the address book.

Every function takes keyword arguments, owns its transaction and returns plain dataclasses
from ``accounts.domain``. Personal data is encrypted and decrypted here and nowhere else.
Password hashing (argon2id) runs in a worker thread so that it never blocks the event loop.
"""

from __future__ import annotations

from kuaidan.accounts.service.addresses import (
    add_address,
    delete_address,
    get_address,
    list_addresses,
    update_address,
)
from kuaidan.accounts.service.bulk import BulkAddress, BulkBuyer, create_buyers_in_bulk
from kuaidan.accounts.service.sessions import (
    change_password,
    get_session_user,
    login,
    logout_everywhere,
)
from kuaidan.accounts.service.tokens import (
    authenticate_api_token,
    issue_api_token,
    list_api_tokens,
    revoke_api_token,
)
from kuaidan.accounts.service.users import (
    create_user,
    find_user_by_phone,
    find_users_by_phone,
    get_change_facts,
    get_profile,
    get_user,
    get_user_by_email,
    list_users,
    register_buyer,
    update_profile,
)

__all__ = [
    "BulkAddress",
    "BulkBuyer",
    "add_address",
    "authenticate_api_token",
    "change_password",
    "create_buyers_in_bulk",
    "create_user",
    "delete_address",
    "find_user_by_phone",
    "find_users_by_phone",
    "get_address",
    "get_change_facts",
    "get_profile",
    "get_session_user",
    "get_user",
    "get_user_by_email",
    "issue_api_token",
    "list_addresses",
    "list_api_tokens",
    "list_users",
    "login",
    "logout_everywhere",
    "register_buyer",
    "revoke_api_token",
    "update_address",
    "update_profile",
]
