"""customers, conversations and messages

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("risk_level", sa.String(2)),
        sa.Column("risk_expires", sa.String(10)),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id")),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(80), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("client_message_id", sa.String(64)),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("buttons", sa.JSON),
        sa.Column("disclosure", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reply_to", sa.Integer, sa.ForeignKey("messages.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("conversation_id", "client_message_id", name="uq_message_client_id"),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])
    op.create_index("ix_messages_status", "messages", ["status"])


def downgrade():
    op.drop_table("messages")
    op.drop_table("conversations")
    op.drop_table("customers")
