"""offer requests: bundled demand, offers and their revisions, messages; the inbox and the mail outbox (issue 7)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 03:20:44.681276
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql
import allmende.core.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbound_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('to_address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sent_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_mail_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_mail_sent_at'), ['sent_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_mail_uuid'), ['uuid'], unique=True)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('record_uuid', sa.Uuid(), nullable=True),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_record_uuid'), ['record_uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_uuid'), ['uuid'], unique=True)

    op.create_table('offer_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=True),
    sa.Column('sectors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('standards', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('need', sa.Text(), nullable=False),
    sa.Column('desired_start', sa.Date(), nullable=True),
    sa.Column('deadline', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('budget_min_cents', sa.BigInteger(), nullable=True),
    sa.Column('budget_max_cents', sa.BigInteger(), nullable=True),
    sa.Column('procurement_notes', sa.Text(), nullable=True),
    sa.Column('bundle_version', sa.Integer(), nullable=False),
    sa.Column('preferred_offer_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminder_sent_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requester_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['solution_id'], ['solution.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('offer_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_request_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_request_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_request_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_request_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_request_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_request_uuid'), ['uuid'], unique=True)

    op.create_table('offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('current_revision', sa.Integer(), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['offer_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'vendor_id', name='uq_offer_request_vendor_once')
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_uuid'), ['uuid'], unique=True)
        batch_op.create_index(batch_op.f('ix_offer_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('offer_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('author_organization_id', sa.Integer(), nullable=False),
    sa.Column('author_user_id', sa.Integer(), nullable=True),
    sa.Column('author_token_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['author_token_id'], ['api_token.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_user_id'], ['user_account.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['offer_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('offer_message', schema=None) as batch_op:
        batch_op.create_index('ix_offer_message_thread', ['request_id', 'vendor_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_message_uuid'), ['uuid'], unique=True)

    op.create_table('offer_request_participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('inhabitants', sa.Integer(), nullable=False),
    sa.Column('users', sa.Integer(), nullable=False),
    sa.Column('sites', sa.Integer(), nullable=False),
    sa.Column('joined_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('left_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acceptance', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('accepted_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['offer_request.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'organization_id', name='uq_offer_participant')
    )
    with op.batch_alter_table('offer_request_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_request_participant_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_request_participant_request_id'), ['request_id'], unique=False)

    op.create_table('offer_request_vendor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=True),
    sa.Column('added_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['offer_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['solution_id'], ['solution.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'organization_id', name='uq_offer_request_vendor')
    )
    with op.batch_alter_table('offer_request_vendor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_request_vendor_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_request_vendor_request_id'), ['request_id'], unique=False)

    op.create_table('offer_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_by_token_id', sa.Integer(), nullable=True),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('items', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('per_participant', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('bundle_version', sa.Integer(), nullable=False),
    sa.Column('service_level', sa.Text(), nullable=False),
    sa.Column('hosting_location', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_token_id'], ['api_token.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('offer_id', 'revision', name='uq_offer_revision')
    )
    with op.batch_alter_table('offer_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_revision_offer_id'), ['offer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('offer_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_revision_offer_id'))

    op.drop_table('offer_revision')
    with op.batch_alter_table('offer_request_vendor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_request_vendor_request_id'))
        batch_op.drop_index(batch_op.f('ix_offer_request_vendor_organization_id'))

    op.drop_table('offer_request_vendor')
    with op.batch_alter_table('offer_request_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_request_participant_request_id'))
        batch_op.drop_index(batch_op.f('ix_offer_request_participant_organization_id'))

    op.drop_table('offer_request_participant')
    with op.batch_alter_table('offer_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_message_uuid'))
        batch_op.drop_index('ix_offer_message_thread')

    op.drop_table('offer_message')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_offer_uuid'))
        batch_op.drop_index(batch_op.f('ix_offer_request_id'))

    op.drop_table('offer')
    with op.batch_alter_table('offer_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_request_uuid'))
        batch_op.drop_index(batch_op.f('ix_offer_request_state'))
        batch_op.drop_index(batch_op.f('ix_offer_request_solution_id'))
        batch_op.drop_index(batch_op.f('ix_offer_request_requester_id'))
        batch_op.drop_index(batch_op.f('ix_offer_request_deadline'))
        batch_op.drop_index(batch_op.f('ix_offer_request_created_at'))

    op.drop_table('offer_request')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_uuid'))
        batch_op.drop_index(batch_op.f('ix_notification_user_id'))
        batch_op.drop_index(batch_op.f('ix_notification_record_uuid'))
        batch_op.drop_index(batch_op.f('ix_notification_created_at'))

    op.drop_table('notification')
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_mail_uuid'))
        batch_op.drop_index(batch_op.f('ix_outbound_mail_sent_at'))
        batch_op.drop_index(batch_op.f('ix_outbound_mail_next_attempt_at'))

    op.drop_table('outbound_mail')
