"""rules in force: the newest published version found from an index

Every request reads the name of the rules version in force (the newest ``published_at``) and
reuses the rules parsed for it; the index answers that in one step however many versions the
bureau publishes.

Revision ID: c3e8a1f47b20
Revises: b7c4e2a91d05
Create Date: 2026-12-01 21:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3e8a1f47b20'
down_revision = 'b7c4e2a91d05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rules_versions', schema=None) as batch_op:
        batch_op.create_index('ix_rules_versions_published_at', ['published_at', 'version'], unique=False)


def downgrade():
    with op.batch_alter_table('rules_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_rules_versions_published_at')
