"""Users and their personal bearer tokens (stored only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from relay.log import now_text
from relay.store.tables import users

TOKEN_PREFIX = "inb_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: str  # ADMIN | MEMBER
    created_at: str
    revoked_at: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(conn: Connection, name: str, *, admin: bool) -> str:
    """Create a user and return their token; only its hash is kept."""
    if not _NAME.match(name):
        raise UserError(f"{name!r} is not a valid user name (letters, digits, . _ @ -)")
    existing = conn.execute(select(users.c.id).where(users.c.name == name))
    if existing.first() is not None:
        raise UserError(f"user {name!r} already exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(users).values(
            name=name,
            role="ADMIN" if admin else "MEMBER",
            token_hash=hash_token(token),
            created_at=now_text(),
        )
    )
    return token


def list_users(conn: Connection) -> list[User]:
    result = conn.execute(
        select(users.c.name, users.c.role, users.c.created_at, users.c.revoked_at).order_by(
            users.c.name
        )
    )
    return [User(*row) for row in result]


def revoke_user(conn: Connection, name: str) -> None:
    result = conn.execute(
        update(users)
        .where(users.c.name == name, users.c.revoked_at.is_(None))
        .values(revoked_at=now_text())
    )
    if result.rowcount == 0:
        raise UserError(f"no active user named {name!r}")


def user_for_token(conn: Connection, token: str) -> User | None:
    result = conn.execute(
        select(users.c.name, users.c.role, users.c.created_at, users.c.revoked_at).where(
            users.c.token_hash == hash_token(token), users.c.revoked_at.is_(None)
        )
    )
    row = result.first()
    return User(*row) if row is not None else None
