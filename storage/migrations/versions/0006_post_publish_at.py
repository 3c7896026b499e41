"""post publish at, edited by

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('edited_by', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('edited_by')
        batch_op.drop_column('publish_at')
