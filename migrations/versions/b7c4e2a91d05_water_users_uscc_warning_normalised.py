"""water users: the USCC stored once, normalised; the organisation-code warning kept;
calibrations: due dates computed, not frozen

Codes are stored as ``registry.domain.uscc.normalise_uscc`` gives them (half-width, no spaces
or dashes, upper case) and compared in that form, so one enterprise cannot be filed twice
under two spellings of its code. Existing codes are normalised here (one whose normalised form
another file already holds is left as it is, for staff to resolve), and ``uscc_warning`` keeps
the GB 11714 organisation-code warning ("org_code") on the record. Downgrading drops the
warning column; the normalised codes stay (they are valid codes).

A calibration's next due date used to be stored at entry as the rules then gave it (24 months
after the verification, or the meter's own interval). It is now computed from the rules in
force, and a stored date only holds when the certificate states an earlier one: the dates
equal to what the entry computed are cleared here (a certificate stating exactly that date
loses nothing, the computed date is the same). Downgrading leaves them computed.

Revision ID: b7c4e2a91d05
Revises: b7d41e0c9a52
Create Date: 2026-12-01 20:00:00

"""
import calendar
import re
import unicodedata
from datetime import date

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c4e2a91d05'
down_revision = 'b7d41e0c9a52'
branch_labels = None
depends_on = None

# As registry.domain.uscc at this revision (a migration does not follow later code).
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\ufe58\ufe63]+")


def _normalise(code: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", code)).upper()


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(index, 12)
    return date(year, month0 + 1, min(d.day, calendar.monthrange(year, month0 + 1)[1]))


def _as_date(value):
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _clear_computed_due_dates(conn) -> None:
    cals = sa.table('calibrations', sa.column('id', sa.Integer), sa.column('meter_id', sa.Integer),
                    sa.column('calibrated_on', sa.Date), sa.column('next_due_on', sa.Date))
    meters = sa.table('meters', sa.column('id', sa.Integer), sa.column('interval_months', sa.Integer))
    rows = conn.execute(sa.select(cals.c.id, cals.c.calibrated_on, cals.c.next_due_on, meters.c.interval_months)
                        .join(meters, meters.c.id == cals.c.meter_id).where(cals.c.next_due_on.is_not(None))).all()
    computed = [cal_id for cal_id, on, due, interval in rows
                if _add_months(_as_date(on), interval or 24) == _as_date(due)]
    for start in range(0, len(computed), 1000):
        conn.execute(cals.update().where(cals.c.id.in_(computed[start:start + 1000])).values(next_due_on=None))


def upgrade():
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uscc_warning', sa.String(length=20), nullable=True))
    conn = op.get_bind()
    _normalise_codes(conn)
    _clear_computed_due_dates(conn)


def _normalise_codes(conn) -> None:
    users = sa.table('water_users', sa.column('id', sa.Integer), sa.column('uscc', sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.uscc).order_by(users.c.id)).all()  # oldest file first
    taken = {code for _, code in rows}
    for wu_id, code in rows:
        clean = _normalise(code or "")
        if clean != code and clean and clean not in taken:
            conn.execute(users.update().where(users.c.id == wu_id).values(uscc=clean))
            taken.add(clean)


def downgrade():
    with op.batch_alter_table('water_users', schema=None) as batch_op:
        batch_op.drop_column('uscc_warning')
