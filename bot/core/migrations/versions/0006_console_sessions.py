"""agent console sessions and the audit log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),  # SHA-256 (hex) of the cookie's token
        sa.Column("staff_id", sa.String(64), sa.ForeignKey("staff.id"), nullable=False, index=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(80), nullable=False, index=True),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(120), index=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("ip", sa.String(64)),
    )


def downgrade():
    op.drop_table("audit_log")
    op.drop_table("console_sessions")
