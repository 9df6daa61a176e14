"""Dependencies shared by the routes: the runtime and the authenticated key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from vidgate.auth.cache import AuthenticatedKey
from vidgate.auth.service import authenticate, require_scope
from vidgate.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_key(
    runtime: RuntimeDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer sk_...` (live) or `Bearer sk_test_...` (sandbox)")
    ] = None,
) -> AuthenticatedKey:
    return await authenticate(runtime.sessions, runtime.key_cache, authorization)


KeyDep = Annotated[AuthenticatedKey, Depends(get_key)]


def scoped(*scopes: str):  # noqa: ANN201 - a dependency factory
    async def dependency(key: KeyDep) -> AuthenticatedKey:
        require_scope(key, *scopes)
        return key

    return Depends(dependency)


VideoKey = Annotated[AuthenticatedKey, scoped("video")]
JobsKey = Annotated[AuthenticatedKey, scoped("jobs", "usage")]
UsageKey = Annotated[AuthenticatedKey, scoped("usage")]
