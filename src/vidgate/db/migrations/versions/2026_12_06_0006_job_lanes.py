"""jobs run on lanes (local, fal, gpu); graceful requeues are counted apart from attempts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

`attempts` now only grows: the current attempt's number fences a run's state changes. A
shutdown that gives a job back counts in `requeues` instead of taking an attempt back.
"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('requeues', sa.Integer(), nullable=False, server_default='0'))
    op.execute("UPDATE jobs SET lane = provider")  # the built-in backends' lanes bear their names
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.alter_column('lane', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('requeues', existing_type=sa.Integer(), server_default=None)
        batch_op.drop_index('ix_jobs_status_created')
        batch_op.create_index('ix_jobs_status_lane_created', ['status', 'lane', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status_lane_created')
        batch_op.create_index('ix_jobs_status_created', ['status', 'created_at'], unique=False)
        batch_op.drop_column('requeues')
        batch_op.drop_column('lane')
