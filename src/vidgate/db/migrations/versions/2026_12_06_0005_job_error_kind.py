"""a failed job records whose fault it was, not an HTTP status

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

The API maps the kind to a status at its edge (input 400, account 503, else 502).
"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_kind', sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE jobs SET error_kind = CASE error_status WHEN 400 THEN 'input' "
        "WHEN 503 THEN 'account' ELSE 'provider' END WHERE status = 'failed'"
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('error_status')


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_status', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE jobs SET error_status = CASE error_kind WHEN 'input' THEN 400 "
        "WHEN 'account' THEN 503 ELSE 502 END WHERE status = 'failed'"
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('error_kind')
