"""post deliveries: one post, one delivery per platform

Each `posts` row was one post on one platform. The platform's side (state, attempts, external
id, cost, error, times, fitted text) moves to a `deliveries` row; rows that were written together
for several platforms (same generated text, distinct platforms) become one post with one delivery
each. The downgrade splits them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:00:00.000000
"""

from collections import defaultdict

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

MOVED = ('platform', 'status', 'text', 'scheduled_for', 'external_id', 'error', 'attempts',
         'attempted_at', 'cost_usd', 'updated_at', 'published_at', 'created_at')
# A post's status sums up its deliveries' (as bot.outbox.summary does): the furthest behind.
ORDER = ('draft', 'publishing', 'unknown', 'approved', 'failed', 'published', 'rejected')

old_posts = sa.table(
    'posts', sa.column('id', sa.Integer), sa.column('status', sa.String), sa.column('text', sa.Text),
    sa.column('generated_item_id', sa.Integer), sa.column('platform', sa.String),
    sa.column('scheduled_for', sa.DateTime(timezone=True)), sa.column('external_id', sa.String),
    sa.column('error', sa.Text), sa.column('attempts', sa.Integer),
    sa.column('attempted_at', sa.DateTime(timezone=True)), sa.column('cost_usd', sa.Float),
    sa.column('updated_at', sa.DateTime(timezone=True)),
    sa.column('published_at', sa.DateTime(timezone=True)),
    sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('campaign', sa.String), sa.column('image_item_id', sa.Integer),
    sa.column('publish_at', sa.DateTime(timezone=True)), sa.column('reviewed_by', sa.String),
    sa.column('reviewed_at', sa.DateTime(timezone=True)), sa.column('edited_by', sa.String),
)
deliveries = sa.table('deliveries', sa.column('id', sa.Integer), sa.column('post_id', sa.Integer),
                      *(sa.column(name, old_posts.c[name].type) for name in MOVED))


def _summary(states: list[str]) -> str:
    return min(states, key=ORDER.index)


def upgrade() -> None:
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_deliveries_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('post_id', 'platform', name=op.f('uq_deliveries_post_id_platform'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_platform'), ['platform'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_status'), ['status'], unique=False)

    connection = op.get_bind()
    rows = connection.execute(sa.select(old_posts).order_by(old_posts.c.id)).mappings().all()
    owner: dict[int, int] = {}  # old post id -> the post that keeps its delivery
    together: dict[int, list] = {}  # generated text -> the rows written with it, by platform
    for row in rows:
        group = together.get(row['generated_item_id'])
        if group and row['platform'] not in {r['platform'] for r in group}:
            owner[row['id']] = group[0]['id']
            group.append(row)
            continue
        owner[row['id']] = row['id']
        if row['generated_item_id'] is not None and group is None:
            together[row['generated_item_id']] = [row]
    # SQLite rebuilds `posts` to drop columns: done before any delivery refers to a post.
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_alt', sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_posts_platform'))
        for name in ('platform', 'scheduled_for', 'external_id', 'error', 'attempts', 'attempted_at',
                     'cost_usd', 'published_at'):
            batch_op.drop_column(name)
    if rows:
        connection.execute(deliveries.insert(), [
            {'post_id': owner[row['id']], **{name: row[name] for name in MOVED}} for row in rows
        ])
    states: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        states[owner[row['id']]].append(row['status'])
    merged = [old for old, kept in owner.items() if old != kept]
    if merged:
        connection.execute(old_posts.delete().where(old_posts.c.id.in_(merged)))
    for post_id, post_states in states.items():
        connection.execute(old_posts.update().where(old_posts.c.id == post_id)
                           .values(status=_summary(post_states)))


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(deliveries).order_by(deliveries.c.post_id, deliveries.c.id)
                              ).mappings().all()
    kept = ('campaign', 'generated_item_id', 'image_item_id', 'publish_at', 'reviewed_by',
            'reviewed_at', 'edited_by')
    posts = {row['id']: row for row in connection.execute(
        sa.select(old_posts.c.id, *(old_posts.c[name] for name in kept))).mappings()}
    # SQLite rebuilds `posts`, and dropping the old table cascades to the deliveries: read first.
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=16), nullable=False,
                                      server_default='local'))
        batch_op.add_column(sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cost_usd', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_posts_platform'), ['platform'], unique=False)
        batch_op.drop_column('image_alt')

    seen: set[int] = set()
    for row in rows:
        values = {name: row[name] for name in MOVED}
        if row['post_id'] not in seen:  # the post's first delivery stays in its row
            seen.add(row['post_id'])
            connection.execute(old_posts.update().where(old_posts.c.id == row['post_id'])
                               .values(**values))
            continue
        post = posts[row['post_id']]  # further platforms become posts of their own again
        connection.execute(old_posts.insert().values(**values, **{name: post[name] for name in kept}))
    op.drop_table('deliveries')
