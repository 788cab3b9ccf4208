"""the Telegram channel: updates seen once, and each private chat with its outbox cursor

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(80), sa.ForeignKey("conversations.id"), index=True),
        sa.Column("chat_id", sa.BigInteger, index=True),
        sa.Column("received_at", ShanghaiTime, nullable=False),
    )
    op.create_table(
        "telegram_chats",
        sa.Column("conversation_id", sa.String(80), sa.ForeignKey("conversations.id"), primary_key=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("delivered_up_to", sa.Integer, nullable=False, server_default="0"),
        sa.Column("blocked_at", ShanghaiTime),
        sa.Column("created_at", ShanghaiTime, nullable=False),
        sa.Column("linked_at", ShanghaiTime),
    )


def downgrade():
    op.drop_table("telegram_chats")
    op.drop_table("telegram_updates")
