"""catalog

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 02:11:08.245491
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import allmende.core.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('vocabulary',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('label_de', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('label_en', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('extensible', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('solution',
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('published_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('moderation_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('pending', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('pending_state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('adopters_count', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('license', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('is_open_source', sa.Boolean(), nullable=False),
    sa.Column('repository_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('homepage_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('development_status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('current_version', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
    sa.Column('release_date', sa.Date(), nullable=True),
    sa.Column('stages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sectors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('areas', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('standards', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('hosting_options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('hosting_location', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('avv_available', sa.Boolean(), nullable=True),
    sa.Column('bsi_c5', sa.Boolean(), nullable=True),
    sa.Column('iso_27001', sa.Boolean(), nullable=True),
    sa.Column('protection_need', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('accessibility', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('pricing_model', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('contact_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('contact_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('unconfirmed', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_id', 'external_id', name='uq_solution_provider_external_id')
    )
    with op.batch_alter_table('solution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solution_adopters_count'), ['adopters_count'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_development_status'), ['development_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_is_open_source'), ['is_open_source'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_published_at'), ['published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_slug'), ['slug'], unique=True)
        batch_op.create_index(batch_op.f('ix_solution_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_uuid'), ['uuid'], unique=True)

    op.create_table('vocabulary_term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vocabulary_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('label_de', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('label_en', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description_de', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['vocabulary_key'], ['vocabulary.key'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vocabulary_key', 'key', name='uq_vocabulary_term')
    )
    with op.batch_alter_table('vocabulary_term', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vocabulary_term_vocabulary_key'), ['vocabulary_key'], unique=False)

    op.create_table('solution_facet',
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('vocabulary', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('term', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.ForeignKeyConstraint(['solution_id'], ['solution.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('solution_id', 'vocabulary', 'term')
    )
    with op.batch_alter_table('solution_facet', schema=None) as batch_op:
        batch_op.create_index('ix_solution_facet_lookup', ['vocabulary', 'term'], unique=False)

    op.create_table('solution_reference',
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', allmende.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.Date(), nullable=True),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('statement', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('claimed_at', allmende.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['solution_id'], ['solution.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('solution_id', 'organization_id', name='uq_reference_solution_org')
    )
    with op.batch_alter_table('solution_reference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solution_reference_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_reference_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_reference_uuid'), ['uuid'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('solution_reference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solution_reference_uuid'))
        batch_op.drop_index(batch_op.f('ix_solution_reference_solution_id'))
        batch_op.drop_index(batch_op.f('ix_solution_reference_organization_id'))

    op.drop_table('solution_reference')
    with op.batch_alter_table('solution_facet', schema=None) as batch_op:
        batch_op.drop_index('ix_solution_facet_lookup')

    op.drop_table('solution_facet')
    with op.batch_alter_table('vocabulary_term', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vocabulary_term_vocabulary_key'))

    op.drop_table('vocabulary_term')
    with op.batch_alter_table('solution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solution_uuid'))
        batch_op.drop_index(batch_op.f('ix_solution_state'))
        batch_op.drop_index(batch_op.f('ix_solution_slug'))
        batch_op.drop_index(batch_op.f('ix_solution_published_at'))
        batch_op.drop_index(batch_op.f('ix_solution_provider_id'))
        batch_op.drop_index(batch_op.f('ix_solution_name'))
        batch_op.drop_index(batch_op.f('ix_solution_is_open_source'))
        batch_op.drop_index(batch_op.f('ix_solution_development_status'))
        batch_op.drop_index(batch_op.f('ix_solution_adopters_count'))

    op.drop_table('solution')
    op.drop_table('vocabulary')
