"""jobs keep the storage keys of their outputs, not links

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Links are made when a job is read (they may expire); a finished job's output_data names its
files by key. Rows written before stored `url` / `thumbnail_url` paths under /files/, whose
rest is the key.
"""
import json
from collections.abc import Sequence
from typing import Any, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_FILES = "/files/"
_FIELDS = (("url", "key"), ("thumbnail_url", "poster_key"))


def _rewrite(output: dict[str, Any], old_to_new: Sequence[tuple[str, str]], convert: Any) -> bool:
    video = output.get("video")
    if not isinstance(video, dict):
        return False
    changed = False
    for old, new in old_to_new:
        if old in video:
            value = video.pop(old)
            video[new] = convert(value)
            changed = True
    return changed


def _migrate(old_to_new: Sequence[tuple[str, str]], convert: Any) -> None:
    jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("output_data", sa.JSON))
    bind = op.get_bind()
    rows = bind.execute(sa.select(jobs.c.id, jobs.c.output_data).where(jobs.c.output_data.is_not(None)))
    for job_id, output in rows.all():
        if isinstance(output, str):
            output = json.loads(output)
        if isinstance(output, dict) and _rewrite(output, old_to_new, convert):
            bind.execute(sa.update(jobs).where(jobs.c.id == job_id).values(output_data=output))


def upgrade() -> None:
    _migrate(_FIELDS, lambda url: url.removeprefix(_FILES) if isinstance(url, str) else None)


def downgrade() -> None:
    _migrate([(new, old) for old, new in _FIELDS], lambda key: _FILES + key if isinstance(key, str) else None)
