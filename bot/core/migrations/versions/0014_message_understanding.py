"""what the assistant understood in each customer message, and which action said each reply

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("intent", sa.String(64)))
        table.add_column(sa.Column("confidence", sa.Float))
        table.add_column(sa.Column("action", sa.String(64)))


def downgrade():
    with op.batch_alter_table("messages") as table:
        table.drop_column("action")
        table.drop_column("confidence")
        table.drop_column("intent")
