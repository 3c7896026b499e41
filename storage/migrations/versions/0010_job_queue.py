"""job queue: procrastinate's schema (PostgreSQL), queued slots, chat answers, campaign slots

`NOWBOT_JOB_QUEUE=postgresql` queues the scheduler's jobs in PostgreSQL with procrastinate
3.10.0, whose schema is created here from the library's own SQL (on PostgreSQL only: it has no
other backend). A later procrastinate version brings its own migrations, applied by a migration
of ours when the pin moves.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        from procrastinate.schema import SchemaManager

        # Its SQL holds several statements and `$$` bodies: run as is, without parameters.
        bind.connection.driver_connection.execute(SchemaManager.get_schema())
    op.create_table(
        'job_slots',
        sa.Column('job_id', sa.String(length=64), nullable=False),
        sa.Column('slot', sa.DateTime(timezone=True), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('job_id', 'slot', name=op.f('pk_job_slots')),
    )
    op.create_table(
        'chat_answers',
        sa.Column('request_id', sa.String(length=36), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('request_id', name=op.f('pk_chat_answers')),
    )
    with op.batch_alter_table('chat_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_answers_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_slot', sa.String(length=100), nullable=True))
        # A unique index, not a constraint: SQLite would rebuild `posts`, and dropping the old
        # table would cascade to its deliveries.
        batch_op.create_index(batch_op.f('ix_posts_campaign_slot'), ['campaign_slot'], unique=True)


def downgrade() -> None:
    # Not in batch mode: SQLite (3.35 and later) drops a column in place, where rebuilding
    # `posts` would cascade to its deliveries.
    op.drop_index(op.f('ix_posts_campaign_slot'), table_name='posts')
    op.drop_column('posts', 'campaign_slot')
    with op.batch_alter_table('chat_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_answers_created_at'))
    op.drop_table('chat_answers')
    op.drop_table('job_slots')
    # procrastinate's tables stay: jobs may still wait in them.
