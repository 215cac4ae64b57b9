"""foundation

Revision ID: 0001
Revises:
Create Date: 2026-11-25 01:56:09.574736
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import allmende.core.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("record_type", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("record_uuid", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("operation", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("changed_at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_log_record_type"), ["record_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_log_record_uuid"), ["record_uuid"], unique=False)

    counter = op.create_table(
        "change_log_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The single counter row every change-log writer increments (see allmende.core.records).
    op.bulk_insert(counter, [{"id": 1, "last_seq": 0}])
    op.create_table(
        "organization",
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", allmende.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("ags", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("ars", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("bundesland", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("population_date", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("vendor_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column(
            "unconfirmed", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ags", name="uq_organization_kind_ags"),
    )
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organization_ags"), ["ags"], unique=False)
        batch_op.create_index(batch_op.f("ix_organization_bundesland"), ["bundesland"], unique=False)
        batch_op.create_index(batch_op.f("ix_organization_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_organization_slug"), ["slug"], unique=True)
        batch_op.create_index(batch_op.f("ix_organization_uuid"), ["uuid"], unique=True)

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("platform_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", allmende.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_account_email"), ["email"], unique=True)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("token_prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "scopes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", allmende.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", allmende.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_token_token_hash"), ["token_hash"], unique=True)

    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "organization_id", name="uq_membership_user_org"),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_membership_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", allmende.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_token_id", sa.Integer(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("record_type", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("record_uuid", sa.Uuid(), nullable=True),
        sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_token_id"],
            ["api_token.id"],
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["user_account.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_actor_user_id"), ["actor_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_record_uuid"), ["record_uuid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_record_uuid"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor_user_id"))

    op.drop_table("audit_event")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_user_id"))
        batch_op.drop_index(batch_op.f("ix_membership_organization_id"))

    op.drop_table("membership")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_token_hash"))
        batch_op.drop_index(batch_op.f("ix_api_token_organization_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_account_email"))

    op.drop_table("user_account")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_uuid"))
        batch_op.drop_index(batch_op.f("ix_organization_slug"))
        batch_op.drop_index(batch_op.f("ix_organization_kind"))
        batch_op.drop_index(batch_op.f("ix_organization_bundesland"))
        batch_op.drop_index(batch_op.f("ix_organization_ags"))

    op.drop_table("organization")
    op.drop_table("change_log_counter")
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_log_record_uuid"))
        batch_op.drop_index(batch_op.f("ix_change_log_record_type"))

    op.drop_table("change_log")
