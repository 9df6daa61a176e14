"""Dependencies shared by the routes: the runtime and the authenticated, scoped key.

Each is a single flat dependency: nested FastAPI dependencies cost measurable time on the
most frequent requests (job reads).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from vidgate.auth.cache import AuthenticatedKey
from vidgate.auth.service import authenticate, require_scope
from vidgate.runtime import Runtime

# Routes that take a key declare it in OpenAPI with this (see app.py for the scheme).
BEARER_SECURITY: dict[str, Any] = {"security": [{"bearerAuth": []}]}


def runtime_of(request: Request) -> Runtime:
    """The server's runtime (read directly: a dependency per request costs time)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def scoped(*scopes: str):  # noqa: ANN201 - a dependency factory
    async def dependency(request: Request) -> AuthenticatedKey:
        runtime = runtime_of(request)
        key = await authenticate(
            runtime.sessions, runtime.key_cache, request.headers.get("authorization")
        )
        require_scope(key, *scopes)
        return key

    return Depends(dependency)


VideoKey = Annotated[AuthenticatedKey, scoped("video")]
JobsKey = Annotated[AuthenticatedKey, scoped("jobs", "usage")]
UsageKey = Annotated[AuthenticatedKey, scoped("usage")]
