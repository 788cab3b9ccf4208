"""complaints and their event history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("source_key", sa.String(160), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(80), index=True),
        sa.Column("customer_id", sa.String(64), index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("category", sa.String(24), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("product", sa.String(16)),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("desired_outcome", sa.Text),
        sa.Column("contact", sa.String(200)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("received_at", ShanghaiTime, nullable=False),
        sa.Column("first_reply_due", ShanghaiTime, nullable=False),
        sa.Column("resolution_due", ShanghaiTime, nullable=False),
        sa.Column("regulatory_due", ShanghaiTime, nullable=False),
        sa.Column("regulatory_extension_days", sa.Integer, nullable=False),
        sa.Column("first_replied_at", ShanghaiTime),
        sa.Column("resolved_at", ShanghaiTime),
        sa.Column("closed_at", ShanghaiTime),
        sa.Column("resolution", sa.Text),
        sa.Column("overdue", sa.JSON, nullable=False),
        sa.Column("updated_at", ShanghaiTime, nullable=False),
    )
    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.Integer, sa.ForeignKey("complaints.id"), nullable=False, index=True),
        sa.Column("at", ShanghaiTime, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("dedupe_key", sa.String(64)),
        sa.UniqueConstraint("complaint_id", "dedupe_key", name="uq_complaint_event_once"),
    )


def downgrade():
    op.drop_table("complaint_events")
    op.drop_table("complaints")
