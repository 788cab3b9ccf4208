"""several contact-service processes (issue #18): leases for jobs one process at a time may run
(bot/core/leases.py), and the claim on a customer message being answered (``claimed_until``)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "leases",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("holder", sa.String(120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True)))


def downgrade():
    with op.batch_alter_table("messages") as table:
        table.drop_column("claimed_until")
    op.drop_table("leases")
