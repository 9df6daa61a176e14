"""Creating, listing, revoking and authenticating API keys."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vidgate.auth.cache import AuthenticatedKey
from vidgate.auth.keys import (
    SCOPES,
    display_prefix,
    generate_key,
    hash_key,
    is_well_formed,
    new_key_id,
    new_webhook_secret,
)
from vidgate.auth.models import ApiKey
from vidgate.auth.rate_limits import SERVER_DEFAULT, parse_limit
from vidgate.cache import ExpiringCache
from vidgate.db.base import utcnow
from vidgate.errors import Forbidden, Unauthorized


async def create_key(
    sessions: async_sessionmaker[AsyncSession],
    *,
    name: str,
    scopes: Iterable[str],
    credits: int,
    video_seconds: int,
    sandbox: bool,
    rate_limit: str | None = None,
    generation_rate_limit: str | None = None,
    webhook_url: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key, with a webhook signing secret (`row.webhook_secret`, to be shown once);
    return the row and the key itself (shown once, never stored). Its rate limits
    (`_own_limit`'s form) default to the server's; `webhook_url` (checked by the caller) is
    where its jobs' events go unless a request names another."""
    scope_list = sorted(set(scopes))
    if not scope_list:  # a key that can call nothing is a mistake, never a wish
        raise ValueError(f"at least one scope is required: {', '.join(SCOPES)}")
    unknown = set(scope_list) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}; known: {', '.join(SCOPES)}")
    if credits < 0 or video_seconds < 0:
        raise ValueError("credits and video seconds must not be negative")
    rate_limit, generation_rate_limit = _own_limit(rate_limit), _own_limit(generation_rate_limit)
    secret = generate_key(sandbox=sandbox)
    row = ApiKey(
        id=new_key_id(),
        name=name,
        key_hash=hash_key(secret),
        key_prefix=display_prefix(secret),
        scopes=scope_list,
        sandbox=sandbox,
        credits_limit=credits,
        credits_used=0,
        credits_reserved=0,
        seconds_limit=video_seconds,
        seconds_used=0,
        seconds_reserved=0,
        active_jobs=0,
        created_at=utcnow(),
        rate_limit=rate_limit,
        generation_rate_limit=generation_rate_limit,
        webhook_url=webhook_url,
        webhook_secret=new_webhook_secret(),
    )
    async with sessions.begin() as session:
        session.add(row)
    return row, secret


async def list_keys(sessions: async_sessionmaker[AsyncSession]) -> list[ApiKey]:
    async with sessions() as session:
        return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all())


async def revoke_key(sessions: async_sessionmaker[AsyncSession], key_id: str) -> bool:
    async with sessions.begin() as session:
        result = await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


async def set_rate_limits(
    sessions: async_sessionmaker[AsyncSession], key_id: str, **limits: str | None
) -> bool:
    """Set a key's `rate_limit` and/or `generation_rate_limit` ("default" puts back the
    server's); False when there is no such key. Servers apply it once their cached key expires."""
    values = {name: _own_limit(value) for name, value in limits.items()}
    async with sessions.begin() as session:
        result = await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_webhook(
    sessions: async_sessionmaker[AsyncSession], key_id: str, *, url: str | None, change_url: bool,
    rotate_secret: bool,
) -> ApiKey | None:
    """Set (`change_url`; None clears it) a key's default webhook URL and/or give it a new
    signing secret (a key without one gets one with its URL); the key as it now is, or None
    when there is no such key. Servers apply it once their cached key expires
    (VIDGATE_KEY_CACHE_SECONDS); deliveries sent after that are signed with the new secret."""
    async with sessions.begin() as session:
        row = await session.get(ApiKey, key_id)
        if row is None:
            return None
        if change_url:
            row.webhook_url = url
        # a key made before webhooks gets its first secret with its URL: it could send none
        if rotate_secret or (url is not None and row.webhook_secret is None):
            row.webhook_secret = new_webhook_secret()
    return row


async def webhook_secrets(sessions: async_sessionmaker[AsyncSession], key_ids: Collection[str]) -> dict[str, str]:
    """The webhook signing secret of each of `key_ids` that has one."""
    async with sessions() as session:
        rows = await session.execute(
            select(ApiKey.id, ApiKey.webhook_secret).where(ApiKey.id.in_(list(key_ids)))
        )
    return {key_id: secret for key_id, secret in rows.all() if secret}


def _own_limit(value: str | None) -> str | None:
    """A key's rate limit as stored: None (the server's) for None or "default", else the
    limit, checked (ValueError naming the form)."""
    if value is None or value == SERVER_DEFAULT:
        return None
    parse_limit(value)
    return value


async def count_keys(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ApiKey)) or 0)


async def authenticate(
    sessions: async_sessionmaker[AsyncSession],
    cache: ExpiringCache[AuthenticatedKey],
    authorization: str | None,
) -> AuthenticatedKey:
    """Resolve an `Authorization: Bearer sk_...` header to a usable key, or raise 401."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not is_well_formed(token):
        raise Unauthorized("Invalid API key")
    key_hash = hash_key(token)
    cached = cache.get(key_hash)
    if cached is not None:
        return cached
    async with sessions() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    if row is None:
        raise Unauthorized("API key not found")
    if row.revoked_at is not None:
        raise Unauthorized("API key has been revoked")
    key = AuthenticatedKey(
        row.id, row.name, frozenset(row.scopes), row.sandbox, row.rate_limit, row.generation_rate_limit,
        webhook_url=row.webhook_url, signs_webhooks=row.webhook_secret is not None,
    )
    cache.put(key_hash, key)
    return key


def require_scope(key: AuthenticatedKey, *accepted: str) -> None:
    """403 unless the key has one of the accepted scopes."""
    if not key.scopes.intersection(accepted):
        raise Forbidden(f"API key missing required scope: {' or '.join(accepted)}")
