"""the email channel's outbox: every outgoing mail committed before a worker sends it

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("envelope_from", sa.String(320), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("message", sa.LargeBinary, nullable=False),
        sa.Column("conversation_id", sa.String(80), sa.ForeignKey("conversations.id"), index=True),
        sa.Column("ticket_ref", sa.String(40), index=True),
        sa.Column("state", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", ShanghaiTime, nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_at", ShanghaiTime),
        sa.Column("last_reply", sa.Text),
        sa.Column("created_at", ShanghaiTime, nullable=False),
        sa.Column("updated_at", ShanghaiTime, nullable=False),
        sa.Column("sent_at", ShanghaiTime),
    )
    op.create_index("ix_email_outbox_due", "email_outbox", ["state", "next_attempt_at"])


def downgrade():
    op.drop_index("ix_email_outbox_due", table_name="email_outbox")
    op.drop_table("email_outbox")
