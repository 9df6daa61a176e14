"""The async engine and session factory for SQLite (WAL) or PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine that holds at most 2 x `pool_size` connections (PostgreSQL)."""
    if url.startswith("sqlite"):
        # Sessions always end their transaction before giving a connection back, so the
        # pool's own rollback on return would only cost a second round trip.
        engine = create_async_engine(url, pool_size=8, max_overflow=8, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes writers queue instead
    # of failing. Write transactions begin at their first UPDATE/INSERT (pysqlite's default),
    # so a reader never has to upgrade its lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_DRIVER_UNREACHABLE = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,  # connection lost, or refused by the server
    asyncpg.exceptions.InsufficientResourcesError,  # "too many clients"
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
)


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached (down, restarting, cut off, out of
    connections), as opposed to a query it refused: the one kind of database error worth
    waiting out."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, _DRIVER_UNREACHABLE):
            return True
        cause = cause.__cause__
    return False
