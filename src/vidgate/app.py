"""The ASGI application: routes under /api/v1 (the backends' own included), OpenAI's videos
API under /v1, files under /files, the playground at /, errors in one shape (OpenAI's under /v1). Its lifespan opens the shared services and starts the API side,
and, unless told not to, the worker side in the same process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from vidgate import __version__
from vidgate.api.docs_pages import add_docs_pages
from vidgate.api.errors import document_validation_errors_as_400, install_error_handlers
from vidgate.api.limits import FORM_OVERHEAD_BYTES, BodySizeLimit
from vidgate.api.openai_videos import OPENAI_PREFIX
from vidgate.api.playground_page import add_playground
from vidgate.api.rate_limit_headers import RateLimitHeaders
from vidgate.api.routes import files, jobs, models, openai_videos, ops, quota, uploads, videos
from vidgate.backends.registry import PluginFactory, load_plugins
from vidgate.config import Settings, load_settings
from vidgate.ops.metrics import HttpMetrics
from vidgate.sides import running

API_PREFIX = "/api/v1"

DESCRIPTION = """
A self-hostable video generation API. Authenticate with `Authorization: Bearer sk_...`
(live) or `Bearer sk_test_...` (sandbox: always rendered by the local engine).
Errors are `{"error": "..."}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    workers: bool = True,
    plugins: Sequence[PluginFactory] | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the app, with workers in its process unless `workers` is False (an API-only
    process of a scale-out). `plugins` replaces the backend plugins found installed (tests);
    `http_transport` replaces the network for source-media downloads (tests)."""
    settings = settings or load_settings()
    backend_plugins = load_plugins(settings, plugins)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, backend_plugins, workers=workers, http_transport=http_transport) as sides:
            app.state.sides = sides
            app.state.api = sides.api
            app.state.worker = sides.worker
            yield

    app = FastAPI(
        title="vidgate", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # api/docs_pages.py serves them, offline
        generate_unique_id_function=operation_id,
    )
    for module in (videos, jobs, uploads, models, quota):
        app.include_router(module.router, prefix=API_PREFIX)
    for plugin in backend_plugins:
        if plugin.router is not None:
            app.include_router(plugin.router, prefix=API_PREFIX)
    app.include_router(openai_videos.router, prefix=OPENAI_PREFIX)
    app.include_router(files.router)
    app.include_router(ops.router)
    add_docs_pages(app)
    add_playground(app)
    install_error_handlers(app)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(BodySizeLimit, uploads={
        path: settings.max_source_bytes + FORM_OVERHEAD_BYTES for path in (f"{API_PREFIX}/files", f"{OPENAI_PREFIX}/videos")
    })
    app.add_middleware(HttpMetrics)
    _complete_openapi(app)
    return app


def operation_id(route: APIRoute) -> str:
    """The route function's name (create_generation, get_job...): what a client generated
    from the document calls it. The HEAD form of a GET route is head_..."""
    if route.methods == {"HEAD"}:
        return "head_" + route.name.removeprefix("get_")
    return route.name


def _complete_openapi(app: FastAPI) -> None:
    """Add the `Authorization: Bearer` scheme to OpenAPI, so /docs can send a key, and
    document validation errors as they are really answered."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            document_validation_errors_as_400(schema)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`sk_...` (live) or `sk_test_...` (sandbox)",
                }
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
