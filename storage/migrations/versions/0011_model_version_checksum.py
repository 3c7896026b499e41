"""model version checksum

The sha256 of a version's manifest (its files' names, sizes and sha256): another machine fetching
the version from the artifact store verifies its copy against it. NULL for versions saved before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checksum', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_column('checksum')
