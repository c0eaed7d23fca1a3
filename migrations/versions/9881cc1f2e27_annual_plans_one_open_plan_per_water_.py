"""annual plans: one open plan per water user and year

The unique (water user, year) counted voided plans, so a plan closed as entered in error could
not be replaced. A partial unique index on the open plans keeps one plan in force per year.
Downgrading fails if a year has a voided plan and its replacement.

Revision ID: 9881cc1f2e27
Revises: 93467278ef6f
Create Date: 2026-11-29 10:17:46.625895

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9881cc1f2e27'
down_revision = '93467278ef6f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('annual_plans', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_annual_plans_water_user_id_year'), type_='unique')
        batch_op.create_index('uq_annual_plans_open_year', ['water_user_id', 'year'], unique=True, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))



def downgrade():
    with op.batch_alter_table('annual_plans', schema=None) as batch_op:
        batch_op.drop_index('uq_annual_plans_open_year', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.create_unique_constraint(batch_op.f('uq_annual_plans_water_user_id_year'), ['water_user_id', 'year'])

