"""a clean email inbox (issue #17): a ticket's state (``open``, or ``automated`` for machine mail
that is kept but never queued) and the CRM customer its address matched

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("email_tickets") as table:
        table.add_column(sa.Column("state", sa.String(12), nullable=False, server_default="open"))
        table.add_column(sa.Column("customer_id", sa.String(64)))
        table.create_index("ix_email_tickets_state", ["state"])
        table.create_foreign_key("fk_email_tickets_customer", "customers", ["customer_id"], ["id"])


def downgrade():
    with op.batch_alter_table("email_tickets") as table:
        table.drop_constraint("fk_email_tickets_customer", type_="foreignkey")
        table.drop_index("ix_email_tickets_state")
        table.drop_column("customer_id")
        table.drop_column("state")
