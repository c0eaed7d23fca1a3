"""plan year (breakdown, versions, proposals) and the tax hand-over statements (issue 19)

A plan carries a monthly or quarterly breakdown; every version of it is kept (the first as
approved, each mid-year adjustment with its reason and the day it takes effect). An enterprise
proposes next year's plan from the portal; the bureau decides. Each quarter's hand-over
statement of a taxpayer is stored with the figures that produced it; a signed one is never
edited (a correction is a new version). Existing plans get their first version from 1 January.

Revision ID: d5a9c2e6f0b1
Revises: d4a7c2e9b310
Create Date: 2026-12-02 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5a9c2e6f0b1'
down_revision = 'd4a7c2e9b310'
branch_labels = None
depends_on = None


def _record_columns():
    return [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_reason', sa.Text(), nullable=True),
    ]


def upgrade():
    with op.batch_alter_table('annual_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('breakdown', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('shares', sa.JSON(), nullable=True))
    op.create_table(
        'annual_plan_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('planned_volume_m3', sa.Float(), nullable=False),
        sa.Column('breakdown', sa.String(length=8), nullable=True),
        sa.Column('shares', sa.JSON(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("breakdown IS NULL OR breakdown IN ('month', 'quarter')",
                           name=op.f('ck_annual_plan_versions_breakdown')),
        sa.CheckConstraint('planned_volume_m3 >= 0', name=op.f('ck_annual_plan_versions_planned_volume_non_negative')),
        sa.ForeignKeyConstraint(['created_by_id'], ['accounts.id'], name=op.f('fk_annual_plan_versions_created_by_id_accounts')),
        sa.ForeignKeyConstraint(['plan_id'], ['annual_plans.id'], name=op.f('fk_annual_plan_versions_plan_id_annual_plans')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_annual_plan_versions')),
        sa.UniqueConstraint('plan_id', 'number', name=op.f('uq_annual_plan_versions_plan_id_number')),
    )
    with op.batch_alter_table('annual_plan_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annual_plan_versions_plan_id'), ['plan_id'], unique=False)
    op.create_table(
        'plan_proposals',
        sa.Column('water_user_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('planned_volume_m3', sa.Float(), nullable=False),
        sa.Column('breakdown', sa.String(length=8), nullable=True),
        sa.Column('shares', sa.JSON(), nullable=True),
        sa.Column('past_year_use_m3', sa.Float(), nullable=True),
        sa.Column('past_year_report', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('submitted_on', sa.Date(), nullable=False),
        sa.Column('submitted_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_on', sa.Date(), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decision_reason', sa.Text(), nullable=True),
        sa.Column('plan_id', sa.Integer(), nullable=True),
        *_record_columns(),
        sa.CheckConstraint("status IN ('pending', 'approved', 'changed', 'refused')", name=op.f('ck_plan_proposals_status')),
        sa.CheckConstraint('planned_volume_m3 >= 0', name=op.f('ck_plan_proposals_planned_volume_non_negative')),
        sa.CheckConstraint("breakdown IS NULL OR breakdown IN ('month', 'quarter')", name=op.f('ck_plan_proposals_breakdown')),
        sa.CheckConstraint('year BETWEEN 2000 AND 2100', name=op.f('ck_plan_proposals_year_range')),
        sa.ForeignKeyConstraint(['water_user_id'], ['water_users.id'], name=op.f('fk_plan_proposals_water_user_id_water_users')),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['accounts.id'], name=op.f('fk_plan_proposals_submitted_by_id_accounts')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['accounts.id'], name=op.f('fk_plan_proposals_decided_by_id_accounts')),
        sa.ForeignKeyConstraint(['plan_id'], ['annual_plans.id'], name=op.f('fk_plan_proposals_plan_id_annual_plans')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_proposals')),
    )
    with op.batch_alter_table('plan_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_proposals_water_user_id'), ['water_user_id'], unique=False)
        batch_op.create_index('ix_plan_proposals_status', ['status'], unique=False)
    op.create_table(
        'tax_statements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('water_user_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('quarter', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('figures', sa.Text(), nullable=False),
        sa.Column('verified_m3', sa.Float(), nullable=False),
        sa.Column('estimated_m3', sa.Float(), nullable=False),
        sa.Column('permitted_m3', sa.Float(), nullable=False),
        sa.Column('rules_version', sa.String(length=30), nullable=False),
        sa.Column('computed_on', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_by_id', sa.Integer(), nullable=True),
        sa.Column('correction_reason', sa.Text(), nullable=True),
        sa.Column('previous_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f('ck_tax_statements_status')),
        sa.CheckConstraint('quarter BETWEEN 1 AND 4', name=op.f('ck_tax_statements_quarter_range')),
        sa.ForeignKeyConstraint(['water_user_id'], ['water_users.id'], name=op.f('fk_tax_statements_water_user_id_water_users')),
        sa.ForeignKeyConstraint(['signed_by_id'], ['accounts.id'], name=op.f('fk_tax_statements_signed_by_id_accounts')),
        sa.ForeignKeyConstraint(['previous_id'], ['tax_statements.id'], name=op.f('fk_tax_statements_previous_id_tax_statements')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_statements')),
        sa.UniqueConstraint('water_user_id', 'year', 'quarter', 'version',
                            name=op.f('uq_tax_statements_water_user_id_year_quarter_version')),
    )
    with op.batch_alter_table('tax_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tax_statements_water_user_id'), ['water_user_id'], unique=False)
        batch_op.create_index('ix_tax_statements_period', ['year', 'quarter', 'status'], unique=False)
    # Every existing plan: its first version, from 1 January of its year, as it stands.
    op.execute("INSERT INTO annual_plan_versions (plan_id, number, effective_from, planned_volume_m3, created_at) "
               "SELECT id, 1, " + ("make_date(year, 1, 1)" if op.get_bind().dialect.name == "postgresql"
                                   else "printf('%04d-01-01', year)") + ", planned_volume_m3, created_at FROM annual_plans")


def downgrade():
    with op.batch_alter_table('tax_statements', schema=None) as batch_op:
        batch_op.drop_index('ix_tax_statements_period')
        batch_op.drop_index(batch_op.f('ix_tax_statements_water_user_id'))
    op.drop_table('tax_statements')
    with op.batch_alter_table('plan_proposals', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_proposals_status')
        batch_op.drop_index(batch_op.f('ix_plan_proposals_water_user_id'))
    op.drop_table('plan_proposals')
    with op.batch_alter_table('annual_plan_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annual_plan_versions_plan_id'))
    op.drop_table('annual_plan_versions')
    with op.batch_alter_table('annual_plans', schema=None) as batch_op:
        batch_op.drop_column('shares')
        batch_op.drop_column('breakdown')
