"""The ceiling for bench/api.py: a bare FastAPI app on the same framework and server settings
as `vidgate serve` (one uvicorn process, loop and HTTP parser as uvicorn picks them, log level
"info", so the access log is on as it is in vidgate).

    python bench/bare_app.py PORT

POST /bare      parses a small JSON body with a pydantic model, returns a small JSON dict
GET /bare/{id}  returns a small JSON dict
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="bare")


class Body(BaseModel):
    prompt: str
    model: str | None = None
    duration_seconds: float = 5


@app.post("/bare", response_model=None)
async def create(body: Body) -> dict[str, Any]:
    return {"id": "bare_0001", "status": "pending", "model": body.model}


@app.get("/bare/{item_id}", response_model=None)
async def read(item_id: str) -> dict[str, Any]:
    return {"id": item_id, "status": "pending", "progress": 0}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
