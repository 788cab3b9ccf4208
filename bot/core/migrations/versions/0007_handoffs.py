"""handoffs of conversations to human agents

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(80), sa.ForeignKey("conversations.id"), nullable=False, index=True),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("queue", sa.String(16), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("complaint_reference", sa.String(16)),
        sa.Column("summary", sa.Text),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("agent_id", sa.String(64), sa.ForeignKey("staff.id")),
        sa.Column("requested_at", ShanghaiTime, nullable=False),
        sa.Column("claimed_at", ShanghaiTime),
        sa.Column("resolved_at", ShanghaiTime),
    )


def downgrade():
    op.drop_table("handoffs")
