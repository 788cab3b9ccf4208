"""one-time codes linking a messaging account to a verified customer

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "link_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("expires_at", ShanghaiTime, nullable=False),
        sa.Column("used_at", ShanghaiTime),
        sa.Column("used_by", sa.String(80)),
    )


def downgrade():
    op.drop_table("link_codes")
