"""documents: photos and scans re-encoded by the task queue (image_state, image_error, original_sha256)

An uploaded image is checked by its header in the request and kept as received outside the
served store; a job of the queue decodes it whole, re-encodes it (no metadata, at most 1600 px
for a photo) and names the copy in ``sha256``. Until then the pages show a placeholder, and a
failed job leaves the reason. Documents stored before were re-encoded in the request: their
state stays empty (nothing to prepare).

Revision ID: d4a7c2e9b310
Revises: c3e8a1f47b20
Create Date: 2026-12-02 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4a7c2e9b310'
down_revision = 'c3e8a1f47b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_state', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('image_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('original_sha256', sa.String(length=64), nullable=True))
        batch_op.create_check_constraint('image_state', "image_state IN ('pending', 'ready', 'failed')")


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_documents_image_state'), type_='check')
        batch_op.drop_column('original_sha256')
        batch_op.drop_column('image_error')
        batch_op.drop_column('image_state')
