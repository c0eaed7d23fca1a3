"""water_users.permit_valid_to: the latest live permit end, for the list

A copy on each file of the end of its latest live permit (not closed, not revoked), indexed,
for the list's permit column and its due filters (issue 10). Filled here from the permits; kept
up to date afterwards by registry/models/cached.py.

Revision ID: 6cda012d6603
Revises: 3310c90d4ffb
Create Date: 2026-11-29 09:33:28.963672

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6cda012d6603'
down_revision = '3310c90d4ffb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('permit_valid_to', sa.Date(), nullable=True))
    # One statement whatever the number of files; before the index, which is then built once.
    op.execute("UPDATE water_users SET permit_valid_to = (SELECT max(permits.valid_to) FROM permits "
               "WHERE permits.water_user_id = water_users.id AND permits.closed_at IS NULL "
               "AND permits.revoked_on IS NULL)")
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.create_index('ix_water_users_permit_valid_to', ['permit_valid_to', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.drop_index('ix_water_users_permit_valid_to')
        batch_op.drop_column('permit_valid_to')
