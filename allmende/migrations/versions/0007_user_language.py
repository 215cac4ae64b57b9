"""user language: the language notices are written in for a person ("de" unless chosen otherwise)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), server_default='de', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('language')
