"""the channel a handoff came from (agents see it in the queue; indicators break down by it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=False, server_default="web"))
    op.execute("UPDATE handoffs SET channel = (SELECT channel FROM conversations WHERE conversations.id = handoffs.conversation_id)")


def downgrade():
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("channel")
