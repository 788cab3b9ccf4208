"""the email channel's tickets, every mail by Message-ID, and received attachments

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "email_tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("source_key", sa.String(255), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(80), sa.ForeignKey("conversations.id"), nullable=False, unique=True),
        sa.Column("address", sa.String(320)),
        sa.Column("address_key", sa.String(320), index=True),
        sa.Column("name", sa.Text),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(64)),
        sa.Column("confidence", sa.String(8)),
        sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("complaint_reference", sa.String(16), index=True),
        sa.Column("acknowledgement_id", sa.Integer, sa.ForeignKey("email_outbox.id")),
        sa.Column("acknowledged_at", ShanghaiTime),
        sa.Column("no_acknowledgement", sa.Text),
        sa.Column("mailed_up_to", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", ShanghaiTime, nullable=False),
    )
    op.create_table(
        "email_mails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("raw", sa.LargeBinary),
        sa.Column("size", sa.Integer, nullable=False, server_default="0"),
        sa.Column("imap_uid", sa.Integer),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("email_tickets.id"), index=True),
        sa.Column("conversation_message_id", sa.Integer, sa.ForeignKey("messages.id")),
        sa.Column("outbox_id", sa.Integer, sa.ForeignKey("email_outbox.id")),
        sa.Column("received_at", ShanghaiTime, nullable=False),
        sa.Column("processed_at", ShanghaiTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_email_mails_state", "email_mails", ["direction", "state"])
    op.create_table(
        "email_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mail_id", sa.Integer, sa.ForeignKey("email_mails.id"), nullable=False, index=True),
        sa.Column("conversation_id", sa.String(80), sa.ForeignKey("conversations.id"), nullable=False, index=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade():
    op.drop_table("email_attachments")
    op.drop_index("ix_email_mails_state", table_name="email_mails")
    op.drop_table("email_mails")
    op.drop_table("email_tickets")
