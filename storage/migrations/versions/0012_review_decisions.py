"""review decisions

What the reviewer-learning loop keeps: each draft's candidates with the editor's scores, every
decision a person made on a draft (approved, rejected, regenerated, edited, unapproved), and an
operator's switch and reset per campaign.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'draft_candidates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('generated_item_id', sa.Integer(), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('chosen', sa.Boolean(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('scores', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['generated_item_id'], ['generated_items.id'],
                                name=op.f('fk_draft_candidates_generated_item_id_generated_items'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_candidates')),
    )
    op.create_index(op.f('ix_draft_candidates_generated_item_id'), 'draft_candidates',
                    ['generated_item_id'], unique=False)
    op.create_table(
        'review_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=True),
        sa.Column('generated_item_id', sa.Integer(), nullable=True),
        sa.Column('campaign', sa.String(length=64), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('text_before', sa.Text(), nullable=False),
        sa.Column('text_after', sa.Text(), nullable=True),
        sa.Column('reviewer', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['generated_item_id'], ['generated_items.id'],
                                name=op.f('fk_review_decisions_generated_item_id_generated_items'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'],
                                name=op.f('fk_review_decisions_post_id_posts'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_decisions')),
    )
    op.create_index(op.f('ix_review_decisions_campaign'), 'review_decisions', ['campaign'],
                    unique=False)
    op.create_index(op.f('ix_review_decisions_generated_item_id'), 'review_decisions',
                    ['generated_item_id'], unique=False)
    op.create_index(op.f('ix_review_decisions_post_id'), 'review_decisions', ['post_id'],
                    unique=False)
    op.create_table(
        'review_loops',
        sa.Column('campaign', sa.String(length=64), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('changed_by', sa.String(length=100), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('forgotten_through', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('campaign', name=op.f('pk_review_loops')),
    )


def downgrade() -> None:
    op.drop_table('review_loops')
    op.drop_index(op.f('ix_review_decisions_post_id'), table_name='review_decisions')
    op.drop_index(op.f('ix_review_decisions_generated_item_id'), table_name='review_decisions')
    op.drop_index(op.f('ix_review_decisions_campaign'), table_name='review_decisions')
    op.drop_table('review_decisions')
    op.drop_index(op.f('ix_draft_candidates_generated_item_id'), table_name='draft_candidates')
    op.drop_table('draft_candidates')
