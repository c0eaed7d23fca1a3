"""sessions that end, certificate verification keys, the client's address in the audit trail

accounts.session_version is part of every session's identity: raising it ends all sessions of
the account. certificates.verify_key is the unguessable part of the verification address (the
numbers run in sequence); certificates issued before get a random key here (their printed QR
codes carry none, so their verification page says only valid / revoked until reissued).
audit_events.client_address is the client's address as ProxyFix's trusted hops give it.

Revision ID: b7d41e0c9a52
Revises: 47ec8b6cbe30
Create Date: 2026-12-01 19:40:00.000000

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d41e0c9a52'
down_revision = '47ec8b6cbe30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_address', sa.String(length=45), nullable=True))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verify_key', sa.String(length=43), nullable=True))
    conn = op.get_bind()
    certificates = sa.table('certificates', sa.column('id', sa.Integer), sa.column('verify_key', sa.String))
    ids = [row.id for row in conn.execute(sa.select(certificates.c.id).where(certificates.c.verify_key.is_(None)))]
    for cert_id in ids:  # one random key each: a key computed from the number would be guessable
        conn.execute(certificates.update().where(certificates.c.id == cert_id)
                     .values(verify_key=secrets.token_urlsafe(32)))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.alter_column('verify_key', existing_type=sa.String(length=43), nullable=False)


def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('verify_key')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('client_address')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('session_version')
