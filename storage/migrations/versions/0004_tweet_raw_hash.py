"""tweet raw hash

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tweets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tweets', schema=None) as batch_op:
        batch_op.drop_column('raw_hash')
