"""derived cursor

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:17:12.686904
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import allmende.core.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('derived_cursor',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('updated_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('derived_cursor')
