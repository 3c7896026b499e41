"""collection cursors

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:48:47.714904
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collection_cursors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('persona_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('newest_id', sa.String(length=32), nullable=True),
    sa.Column('pending_newest_id', sa.String(length=32), nullable=True),
    sa.Column('gap_until_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['persona_id'], ['personas.id'], name=op.f('fk_collection_cursors_persona_id_personas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_cursors')),
    sa.UniqueConstraint('persona_id', 'source', name=op.f('uq_collection_cursors_persona_id_source'))
    )


def downgrade() -> None:
    op.drop_table('collection_cursors')
