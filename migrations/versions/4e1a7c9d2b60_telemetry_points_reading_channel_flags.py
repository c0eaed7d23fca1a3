"""telemetry points; a reading's channel, flags and the flagged / check statuses (issue 17)

``telemetry_points`` holds an online meter's totalizer values, one row per (meter, at), keyed by
that pair alone (no other index: every read is one meter over a time range). Meters get the
register's capacity (rollover) and one live meter per telemetry id (a replacement keeps the id;
duplicates among live meters are cleared on the later meters first, oldest meter keeping it).

Readings get ``channel`` (form, portal, api, import, telemetry) and ``flags`` (plausibility
findings), and two statuses: ``flagged`` (implausible but possible: waits for review, not
counted) and ``check`` (a typed reading beside the telemetry's for the same month: compared,
not counted). The live monthly slot leaves ``check`` readings out, so both partial indexes are
rebuilt with the new predicate.

Revision ID: 4e1a7c9d2b60
Revises: d5a9c2e6f0b1
Create Date: 2026-12-02 01:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4e1a7c9d2b60'
down_revision = 'd5a9c2e6f0b1'
branch_labels = None
depends_on = None

_OLD_LIVE = "read_on IS NULL AND status <> 'rejected' AND closed_at IS NULL"
_NEW_LIVE = "read_on IS NULL AND status NOT IN ('rejected', 'check') AND closed_at IS NULL"
_LIVE_ONLINE = "telemetry_id IS NOT NULL AND removed_on IS NULL AND closed_at IS NULL"


def _live_indexes(batch_op, predicate):
    batch_op.create_index('uq_readings_meter_period_live', ['meter_id', 'period'], unique=True,
                          sqlite_where=sa.text(predicate), postgresql_where=sa.text(predicate))
    batch_op.create_index('ix_readings_live_period', ['period', 'water_user_id', 'volume_m3'], unique=False,
                          sqlite_where=sa.text(predicate), postgresql_where=sa.text(predicate))


def upgrade():
    op.create_table(
        'telemetry_points',
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('totalizer_m3', sa.Float(), nullable=False),
        sa.Column('flow_m3h', sa.Float(), nullable=True),
        sa.CheckConstraint('flow_m3h IS NULL OR flow_m3h >= 0', name=op.f('ck_telemetry_points_flow_non_negative')),
        sa.CheckConstraint('totalizer_m3 >= 0', name=op.f('ck_telemetry_points_totalizer_non_negative')),
        sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], name=op.f('fk_telemetry_points_meter_id_meters')),
        sa.PrimaryKeyConstraint('meter_id', 'at', name='pk_telemetry_points'),
    )
    # One live meter per telemetry id: a later duplicate gives it up (the oldest keeps it).
    op.execute("UPDATE meters SET telemetry_id = NULL WHERE telemetry_id IS NOT NULL AND removed_on IS NULL "
               "AND closed_at IS NULL AND id > (SELECT MIN(m.id) FROM meters m WHERE m.telemetry_id = "
               "meters.telemetry_id AND m.removed_on IS NULL AND m.closed_at IS NULL)")
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('register_capacity_m3', sa.Float(), nullable=True))
        batch_op.create_check_constraint('register_capacity_positive',
                                         'register_capacity_m3 IS NULL OR register_capacity_m3 > 0')
        batch_op.create_index('ix_meters_telemetry_id', ['telemetry_id'], unique=False)
        batch_op.create_index('uq_meters_telemetry_id_live', ['telemetry_id'], unique=True,
                              sqlite_where=sa.text(_LIVE_ONLINE), postgresql_where=sa.text(_LIVE_ONLINE))
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_index('ix_readings_live_period')
        batch_op.drop_index('uq_readings_meter_period_live')
        batch_op.drop_constraint(batch_op.f('ck_readings_status'), type_='check')
        batch_op.add_column(sa.Column('channel', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=True))
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.create_check_constraint('status', "status IN ('pending', 'accepted', 'rejected', 'flagged', 'check')")
        batch_op.create_check_constraint('channel', "channel IS NULL OR channel IN "
                                                    "('form', 'portal', 'api', 'import', 'telemetry')")
        _live_indexes(batch_op, _NEW_LIVE)


def downgrade():
    # Statuses the older schema lacks: a flagged reading waits as pending; a check reading is
    # set aside as rejected (it was never counted).
    op.execute("UPDATE readings SET status = 'pending' WHERE status = 'flagged'")
    op.execute("UPDATE readings SET status = 'rejected', rejected_reason = 'check reading beside telemetry' "
               "WHERE status = 'check'")
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_index('ix_readings_live_period')
        batch_op.drop_index('uq_readings_meter_period_live')
        batch_op.drop_constraint(batch_op.f('ck_readings_channel'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_readings_status'), type_='check')
        batch_op.drop_column('flags')
        batch_op.drop_column('channel')
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.create_check_constraint('status', "status IN ('pending', 'accepted', 'rejected')")
        _live_indexes(batch_op, _OLD_LIVE)
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.drop_index('uq_meters_telemetry_id_live')
        batch_op.drop_index('ix_meters_telemetry_id')
        batch_op.drop_constraint(batch_op.f('ck_meters_register_capacity_positive'), type_='check')
        batch_op.drop_column('register_capacity_m3')
    op.drop_table('telemetry_points')
