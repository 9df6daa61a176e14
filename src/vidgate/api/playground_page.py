"""The playground, a page at / and /playground for making videos in the browser: plain HTML,
CSS and a JavaScript module in api/playground/, served here (no build step, nothing from
another site). It calls the public API like any client, with the key the user enters."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "playground"
ASSETS_PATH = "/playground/assets"
# Scripts, styles and API calls from this server alone; videos and posters may come from a
# bucket elsewhere (presigned links with S3 storage).
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: http: https:; media-src 'self' http: https:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
@router.get("/playground")
async def playground() -> HTMLResponse:
    page = HTMLResponse((ASSETS / "index.html").read_text(encoding="utf-8"))
    page.headers["Content-Security-Policy"] = POLICY
    page.headers["Cache-Control"] = "no-cache"
    return page


def add_playground(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="playground-assets")
