"""tweet loose hash and lookup indexes

An import looks each batch of records up in the database instead of holding a persona's whole
corpus in memory: by `raw_hash`, and by `loose_hash` (the hash of a text's letters and digits,
`corpora.records.loose_hash`), filled here for the tweets already stored.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

from corpora.records import loose_hash


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table('tweets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('loose_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_tweets_persona_raw_hash', ['persona_id', 'raw_hash'], unique=False)
        batch_op.create_index('ix_tweets_persona_loose_hash', ['persona_id', 'loose_hash'], unique=False)
    tweets = sa.table('tweets', sa.column('id', sa.Integer), sa.column('text', sa.Text),
                      sa.column('loose_hash', sa.String))
    connection = op.get_bind()
    last = 0
    while rows := connection.execute(
        sa.select(tweets.c.id, tweets.c.text).where(tweets.c.id > last).order_by(tweets.c.id)
        .limit(BATCH)
    ).all():
        connection.execute(
            tweets.update().where(tweets.c.id == sa.bindparam('row_id'))
            .values(loose_hash=sa.bindparam('hash')),
            [{'row_id': row_id, 'hash': loose_hash(text)} for row_id, text in rows],
        )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table('tweets', schema=None) as batch_op:
        batch_op.drop_index('ix_tweets_persona_loose_hash')
        batch_op.drop_index('ix_tweets_persona_raw_hash')
        batch_op.drop_column('loose_hash')
