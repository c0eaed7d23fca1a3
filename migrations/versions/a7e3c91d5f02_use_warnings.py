"""warnings 预警 (issue 17): each anomaly of a file's use found by the detection, one row per
cause (file, meter, kind, month: ``dedupe_key``, unique among the warnings not closed),
assignable to an inspector and closed with an outcome; never deleted.

Revision ID: a7e3c91d5f02
Revises: 4e1a7c9d2b60
Create Date: 2026-12-07 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7e3c91d5f02'
down_revision = '4e1a7c9d2b60'
branch_labels = None
depends_on = None

_OPEN = sa.text("status <> 'closed'")


def upgrade():
    op.create_table(
        'warnings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_reason', sa.Text(), nullable=True),
        sa.Column('water_user_id', sa.Integer(), nullable=False),
        sa.Column('meter_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('period', sa.Date(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=120), nullable=False),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=30), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('first_detected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_detected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('detections', sa.Integer(), nullable=False),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'assigned', 'closed')", name=op.f('ck_warnings_status')),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('explained', 'meter_fault', 'visit_ordered', "
                           "'rectification_ordered')", name=op.f('ck_warnings_outcome')),
        sa.ForeignKeyConstraint(['water_user_id'], ['water_users.id'], name=op.f('fk_warnings_water_user_id_water_users')),
        sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], name=op.f('fk_warnings_meter_id_meters')),
        sa.ForeignKeyConstraint(['assignee_id'], ['accounts.id'], name=op.f('fk_warnings_assignee_id_accounts')),
        sa.ForeignKeyConstraint(['closed_by_id'], ['accounts.id'], name=op.f('fk_warnings_closed_by_id_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_warnings')),
    )
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warnings_water_user_id'), ['water_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_warnings_dedupe_key'), ['dedupe_key'], unique=False)
        batch_op.create_index('ix_warnings_status_kind', ['status', 'kind'], unique=False)
        batch_op.create_index('uq_warnings_dedupe_key_open', ['dedupe_key'], unique=True,
                              sqlite_where=_OPEN, postgresql_where=_OPEN)


def downgrade():
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.drop_index('uq_warnings_dedupe_key_open', sqlite_where=_OPEN, postgresql_where=_OPEN)
        batch_op.drop_index('ix_warnings_status_kind')
        batch_op.drop_index(batch_op.f('ix_warnings_dedupe_key'))
        batch_op.drop_index(batch_op.f('ix_warnings_water_user_id'))
    op.drop_table('warnings')
