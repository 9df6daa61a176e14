"""The API docs pages, /docs (Swagger UI) and /redoc, working offline: their scripts come from
the fastapi-offline package, served here at /docs-assets, and a Content-Security-Policy keeps
the browser from fetching anything from elsewhere (such as the logo ReDoc asks a CDN for), so
the pages make no request off this server."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
ASSETS = Path(fastapi_offline.__file__).parent / "static"
# Swagger UI starts from an inline script and both pages style inline; ReDoc searches in a
# worker it makes from a blob.
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)
SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}  # no validator.swagger.io

router = APIRouter(include_in_schema=False)


def _assets(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{ASSETS_PATH}"


def _openapi_url(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{request.app.openapi_url}"


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    assets = _assets(request)
    return _with_policy(get_swagger_ui_html(
        openapi_url=_openapi_url(request), title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js", swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png", oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    ))


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return _with_policy(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    assets = _assets(request)
    return _with_policy(get_redoc_html(
        openapi_url=_openapi_url(request), title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{assets}/redoc.standalone.js", redoc_favicon_url=f"{assets}/favicon.png",
        with_google_fonts=False,
    ))


def add_docs_pages(app: FastAPI) -> None:
    """The pages and their assets, after the API's routes (which are matched first)."""
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")
