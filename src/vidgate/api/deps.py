"""Dependencies shared by the routes: the API side and the authenticated, scoped key, and the
route class that checks that key before a body is read.

Each is a single flat dependency: nested FastAPI dependencies cost measurable time on the
most frequent requests (job reads).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from vidgate.api.rate_limit_headers import RATE_LIMIT_WINDOW
from vidgate.api.side import ApiSide
from vidgate.auth.cache import AuthenticatedKey
from vidgate.auth.service import authenticate, require_scope

# Where KeyFirstRoute leaves the key it checked, for the route's key dependency.
_CHECKED_KEY = "vidgate.api_key"

# Routes that take a key declare it in OpenAPI with this (see app.py for the scheme).
BEARER_SECURITY: dict[str, Any] = {"security": [{"bearerAuth": []}]}


def api_of(request: Request) -> ApiSide:
    """The server's API side (read directly: a dependency per request costs time)."""
    api: ApiSide = request.app.state.api
    return api


class ScopedKey:
    """The dependency of a route that needs a key with one of `scopes`: 401 without a usable
    key, 403 without the scope, 429 past the key's rate limit (its generation limit too, for
    a `generation` route)."""

    def __init__(self, *scopes: str, generation: bool = False) -> None:
        self.scopes = scopes
        self.generation = generation

    async def __call__(self, request: Request) -> AuthenticatedKey:
        checked: AuthenticatedKey | None = request.scope.get(_CHECKED_KEY)
        return checked if checked is not None else await self.check(request)

    async def check(self, request: Request) -> AuthenticatedKey:
        api = api_of(request)
        key = await authenticate(api.sessions, api.key_cache, request.headers.get("authorization"))
        require_scope(key, *self.scopes)
        window = await api.rate_limits.count(key, generation=self.generation)
        if window is not None:
            request.scope[RATE_LIMIT_WINDOW] = window
        return key


class KeyFirstRoute(APIRoute):
    """A route that checks its key (`ScopedKey`) before anything else, its body included.

    FastAPI reads and parses a request's body before it solves the route's dependencies, so
    without this a caller with no key could make the server parse up to the body limit of
    JSON (or a multipart form) before being told 401.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        keys = [d.call for d in self.dependant.dependencies if isinstance(d.call, ScopedKey)]
        if not keys:
            return handler
        key_dependency = keys[0]

        async def key_first(request: Request) -> Response:
            request.scope[_CHECKED_KEY] = await key_dependency.check(request)
            return await handler(request)

        return key_first


VideoKey = Annotated[AuthenticatedKey, Depends(ScopedKey("video", generation=True))]
UploadKey = Annotated[AuthenticatedKey, Depends(ScopedKey("video"))]
JobsKey = Annotated[AuthenticatedKey, Depends(ScopedKey("jobs", "usage"))]
UsageKey = Annotated[AuthenticatedKey, Depends(ScopedKey("usage"))]
