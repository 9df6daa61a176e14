"""procrastinate's tables and functions, on PostgreSQL (scale-out dispatch)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

The schema of procrastinate 3.10, the pinned version, applied by procrastinate's own
SchemaManager. A later procrastinate release brings its SQL migrations with it: apply them in
a revision of their own when the pin moves. SQLite databases (the embedded default) have no
use for it.
"""
from collections.abc import Sequence
from typing import Union

from alembic import op
from procrastinate.schema import SchemaManager

revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_DROP_FUNCTIONS = """
DO $$
DECLARE f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
              WHERE p.proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || f.signature || ' CASCADE';
    END LOOP;
END $$;
"""


def _script(sql: str) -> None:
    """Run several SQL statements at once (a prepared statement holds only one): through the
    driver's own connection, inside the migration's transaction."""
    op.get_bind().connection.dbapi_connection.run_async(lambda driver: driver.execute(sql))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _script(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _script(
            "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_jobs, procrastinate_workers CASCADE;"
            + _DROP_FUNCTIONS
            + "DROP TYPE IF EXISTS procrastinate_job_status, procrastinate_job_event_type, "
            "procrastinate_job_to_defer_v1 CASCADE;"
        )
