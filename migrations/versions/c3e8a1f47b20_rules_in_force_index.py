"""rules in force found from an index; the industry history of each water user

Every request reads the name of the rules version in force (the newest ``published_at``) and
reuses the rules parsed for it; the index answers that in one step however many versions the
bureau publishes.

``water_user_industries`` keeps each water user's industry from a day on (GB/T 4754-2017): a
change into an industry that must test its water balance (GB/T 12452-2022) starts the
first-test clock from the change, not from the opening. Each existing file gets its present
industry from its opening day.

Revision ID: c3e8a1f47b20
Revises: b7c4e2a91d05
Create Date: 2026-12-01 21:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e8a1f47b20'
down_revision = 'b7c4e2a91d05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rules_versions', schema=None) as batch_op:
        batch_op.create_index('ix_rules_versions_published_at', ['published_at', 'version'], unique=False)
    op.create_table(
        'water_user_industries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('water_user_id', sa.Integer(), nullable=False),
        sa.Column('industry_code', sa.String(length=4), nullable=False),
        sa.Column('since', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['water_user_id'], ['water_users.id'],
                                name=op.f('fk_water_user_industries_water_user_id_water_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_water_user_industries')),
    )
    with op.batch_alter_table('water_user_industries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_water_user_industries_water_user_id'), ['water_user_id'], unique=False)
    op.execute("INSERT INTO water_user_industries (water_user_id, industry_code, since) "
               "SELECT id, industry_code, opened_on FROM water_users")


def downgrade():
    with op.batch_alter_table('water_user_industries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_water_user_industries_water_user_id'))
    op.drop_table('water_user_industries')
    with op.batch_alter_table('rules_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_rules_versions_published_at')
