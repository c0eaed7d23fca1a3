"""scale indexes: list filters, trigram search

An index for every filter of the water-user list and the work queue, and trigram (pg_trgm) GIN
indexes for the substring search (ILIKE '%...%' on name, file number, USCC and permit number).
The extension exists on PostgreSQL only: there the trigram indexes are GIN; SQLite has no such
thing and gets plain indexes of the same names (so the schema compares equal on both).

Revision ID: fffb13517743
Revises: 225963a1bd73
Create Date: 2026-11-29 06:27:55.170880

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fffb13517743'
down_revision = '225963a1bd73'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table('due_items', schema=None) as batch_op:
        batch_op.create_index('ix_due_items_status_due_on', ['status', 'due_on'], unique=False)

    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.create_index('ix_permits_number_trgm', ['number'], unique=False, postgresql_using='gin', postgresql_ops={'number': 'gin_trgm_ops'})
        batch_op.create_index('ix_permits_water_user_valid_to', ['water_user_id', 'valid_to'], unique=False)

    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_water_users_name'))
        batch_op.create_index('ix_water_users_file_no_trgm', ['file_no'], unique=False, postgresql_using='gin', postgresql_ops={'file_no': 'gin_trgm_ops'})
        batch_op.create_index('ix_water_users_name_trgm', ['name'], unique=False, postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
        batch_op.create_index('ix_water_users_status', ['status'], unique=False)
        batch_op.create_index('ix_water_users_opened_on', ['opened_on'], unique=False)
        batch_op.create_index('ix_water_users_uscc_trgm', ['uscc'], unique=False, postgresql_using='gin', postgresql_ops={'uscc': 'gin_trgm_ops'})



def downgrade():
    # The pg_trgm extension stays: something else in the database may use it.
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.drop_index('ix_water_users_uscc_trgm', postgresql_using='gin', postgresql_ops={'uscc': 'gin_trgm_ops'})
        batch_op.drop_index('ix_water_users_opened_on')
        batch_op.drop_index('ix_water_users_status')
        batch_op.drop_index('ix_water_users_name_trgm', postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
        batch_op.drop_index('ix_water_users_file_no_trgm', postgresql_using='gin', postgresql_ops={'file_no': 'gin_trgm_ops'})
        batch_op.create_index(batch_op.f('ix_water_users_name'), ['name'], unique=False)

    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.drop_index('ix_permits_water_user_valid_to')
        batch_op.drop_index('ix_permits_number_trgm', postgresql_using='gin', postgresql_ops={'number': 'gin_trgm_ops'})

    with op.batch_alter_table('due_items', schema=None) as batch_op:
        batch_op.drop_index('ix_due_items_status_due_on')

