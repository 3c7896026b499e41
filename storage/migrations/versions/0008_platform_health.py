"""platform health and a delivery's first uncertain attempt

`platform_health` keeps each platform's run of failed deliveries and, while its circuit breaker
is open, until when publishing there is paused. `deliveries.unsure_since` is when the first
attempt whose outcome is unknown began: a resend with the delivery's key is safe only within the
platform's key lifetime from then, and reconciliation matches only posts created after it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'platform_health',
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('platform', name=op.f('pk_platform_health')),
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsure_since', sa.DateTime(timezone=True), nullable=True))
    # A delivery already unknown: its last attempt is the best known start of the doubt.
    op.execute("update deliveries set unsure_since = attempted_at where status = 'unknown'")


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('unsure_since')
    op.drop_table('platform_health')
