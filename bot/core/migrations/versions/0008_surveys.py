"""satisfaction surveys

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(80), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("trigger", sa.String(8), nullable=False),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id")),
        sa.Column("agent_id", sa.String(64)),
        sa.Column("asked_at", ShanghaiTime, nullable=False),
        sa.Column("rating", sa.Integer),
        sa.Column("rated_at", ShanghaiTime),
        sa.Column("comment", sa.Text),
        sa.Column("commented_at", ShanghaiTime),
    )


def downgrade():
    op.drop_table("surveys")
