"""callbacks and advisor appointments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _booking_columns():
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("source_key", sa.String(160), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(80), index=True),
        sa.Column("customer_id", sa.String(64), index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mobile", sa.String(20), nullable=False),
        sa.Column("topic", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", ShanghaiTime, nullable=False),
    ]


def upgrade():
    op.create_table(
        "callbacks",
        *_booking_columns(),
        sa.Column("window_start", ShanghaiTime, nullable=False),
        sa.Column("window_end", ShanghaiTime, nullable=False),
    )
    op.create_table(
        "appointments",
        *_booking_columns(),
        sa.Column("city", sa.String(32), nullable=False),
        sa.Column("starts_at", ShanghaiTime, nullable=False),
        sa.Column("ends_at", ShanghaiTime, nullable=False),
    )


def downgrade():
    op.drop_table("appointments")
    op.drop_table("callbacks")
