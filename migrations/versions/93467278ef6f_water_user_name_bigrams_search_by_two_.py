"""water_user_name_bigrams: search by two Chinese characters from an index

Each pair of adjacent characters of a water user's name that a two-character search can be,
so that the list finds 饰品 from an index (a trigram index cannot answer two characters). Filled
here from the names; kept up to date afterwards by registry/models/cached.py, whose rule
(``name_bigrams``) is copied below as it stands at this revision.

Revision ID: 93467278ef6f
Revises: 6cda012d6603
Create Date: 2026-11-29 09:37:37.010865

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '93467278ef6f'
down_revision = '6cda012d6603'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('water_user_name_bigrams',
    sa.Column('bigram', sa.String(length=2), nullable=False),
    sa.Column('water_user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['water_user_id'], ['water_users.id'], name=op.f('fk_water_user_name_bigrams_water_user_id_water_users')),
    sa.PrimaryKeyConstraint('bigram', 'water_user_id', name=op.f('pk_water_user_name_bigrams'))
    )
    _fill()
    with op.batch_alter_table('water_user_name_bigrams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_water_user_name_bigrams_water_user_id'), ['water_user_id'], unique=False)


def _bigrams(name):
    pairs = {name[i:i + 2] for i in range(len(name or "") - 1)}
    return sorted(p for p in pairs if not p.isascii() and p.lower() == p.upper() and not any(c.isspace() for c in p))


def _fill(batch=20000):
    conn = op.get_bind()
    users = sa.table("water_users", sa.column("id", sa.Integer), sa.column("name", sa.String))
    bigrams = sa.table("water_user_name_bigrams", sa.column("bigram", sa.String), sa.column("water_user_id", sa.Integer))
    last = 0
    while True:
        rows = conn.execute(sa.select(users.c.id, users.c.name).where(users.c.id > last)
                            .order_by(users.c.id).limit(batch)).all()
        if not rows:
            return
        pairs = [(b, wu_id) for wu_id, name in rows for b in _bigrams(name)]
        if pairs and conn.dialect.name == "postgresql":  # COPY: 14 bigrams a name, 1.4 million rows at 100,000
            with conn.connection.driver_connection.cursor() as cursor:
                with cursor.copy("COPY water_user_name_bigrams (bigram, water_user_id) FROM STDIN") as copy:
                    for pair in pairs:
                        copy.write_row(pair)
        elif pairs:
            conn.execute(bigrams.insert(), [{"bigram": b, "water_user_id": wu_id} for b, wu_id in pairs])
        last = rows[-1][0]


def downgrade():
    with op.batch_alter_table('water_user_name_bigrams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_water_user_name_bigrams_water_user_id'))

    op.drop_table('water_user_name_bigrams')
