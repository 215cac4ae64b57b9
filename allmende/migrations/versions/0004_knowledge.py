"""knowledge

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 02:31:31.426060
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql
import allmende.core.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_study',
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('author_organization_id', sa.Integer(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('published_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('moderation_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('pending', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('pending_state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('programme', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('cohort', sa.Integer(), nullable=True),
    sa.Column('period_start', sa.Integer(), nullable=True),
    sa.Column('period_end', sa.Integer(), nullable=True),
    sa.Column('stages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sectors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('outcomes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('contact', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('organization_keys', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('solution_uuids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('unconfirmed', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['author_organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_study_author_organization_id'), ['author_organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_study_cohort'), ['cohort'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_study_slug'), ['slug'], unique=True)
        batch_op.create_index(batch_op.f('ix_case_study_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_study_uuid'), ['uuid'], unique=True)

    op.create_table('guide',
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('author_organization_id', sa.Integer(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('published_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('guide', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guide_author_organization_id'), ['author_organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_guide_slug'), ['slug'], unique=True)
        batch_op.create_index(batch_op.f('ix_guide_stage'), ['stage'], unique=False)
        batch_op.create_index(batch_op.f('ix_guide_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_guide_step'), ['step'], unique=False)
        batch_op.create_index(batch_op.f('ix_guide_uuid'), ['uuid'], unique=True)

    op.create_table('case_study_organization',
    sa.Column('case_study_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_study_id'], ['case_study.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('case_study_id', 'organization_id')
    )
    with op.batch_alter_table('case_study_organization', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_study_organization_organization_id'), ['organization_id'], unique=False)

    op.create_table('case_study_solution',
    sa.Column('case_study_id', sa.Integer(), nullable=False),
    sa.Column('solution_uuid', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['case_study_id'], ['case_study.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_study_id', 'solution_uuid')
    )
    with op.batch_alter_table('case_study_solution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_study_solution_solution_uuid'), ['solution_uuid'], unique=False)

    op.create_table('guide_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('guide_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('author_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_user_id'], ['user_account.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['guide_id'], ['guide.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('guide_id', 'number', name='uq_guide_revision_number')
    )
    with op.batch_alter_table('guide_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guide_revision_guide_id'), ['guide_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('guide_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guide_revision_guide_id'))

    op.drop_table('guide_revision')
    with op.batch_alter_table('case_study_solution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_study_solution_solution_uuid'))

    op.drop_table('case_study_solution')
    with op.batch_alter_table('case_study_organization', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_study_organization_organization_id'))

    op.drop_table('case_study_organization')
    with op.batch_alter_table('guide', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guide_uuid'))
        batch_op.drop_index(batch_op.f('ix_guide_step'))
        batch_op.drop_index(batch_op.f('ix_guide_state'))
        batch_op.drop_index(batch_op.f('ix_guide_stage'))
        batch_op.drop_index(batch_op.f('ix_guide_slug'))
        batch_op.drop_index(batch_op.f('ix_guide_author_organization_id'))

    op.drop_table('guide')
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_study_uuid'))
        batch_op.drop_index(batch_op.f('ix_case_study_state'))
        batch_op.drop_index(batch_op.f('ix_case_study_slug'))
        batch_op.drop_index(batch_op.f('ix_case_study_cohort'))
        batch_op.drop_index(batch_op.f('ix_case_study_author_organization_id'))

    op.drop_table('case_study')
