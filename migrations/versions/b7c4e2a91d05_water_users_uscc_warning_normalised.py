"""water users: the USCC stored once, normalised; the organisation-code warning kept

Codes are stored as ``registry.domain.uscc.normalise_uscc`` gives them (half-width, no spaces
or dashes, upper case) and compared in that form, so one enterprise cannot be filed twice
under two spellings of its code. Existing codes are normalised here (one whose normalised form
another file already holds is left as it is, for staff to resolve), and ``uscc_warning`` keeps
the GB 11714 organisation-code warning ("org_code") on the record. Downgrading drops the
warning column; the normalised codes stay (they are valid codes).

Revision ID: b7c4e2a91d05
Revises: 9881cc1f2e27
Create Date: 2026-12-01 20:00:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c4e2a91d05'
down_revision = '9881cc1f2e27'
branch_labels = None
depends_on = None

# As registry.domain.uscc at this revision (a migration does not follow later code).
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\ufe58\ufe63]+")


def _normalise(code: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", code)).upper()


def upgrade():
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uscc_warning', sa.String(length=20), nullable=True))
    conn = op.get_bind()
    users = sa.table('water_users', sa.column('id', sa.Integer), sa.column('uscc', sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.uscc)).all()
    taken = {code for _, code in rows}
    for wu_id, code in rows:
        clean = _normalise(code or "")
        if clean != code and clean and clean not in taken:
            conn.execute(users.update().where(users.c.id == wu_id).values(uscc=clean))
            taken.add(clean)


def downgrade():
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.drop_column('uscc_warning')
