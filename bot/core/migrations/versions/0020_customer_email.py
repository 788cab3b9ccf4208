"""a clean email inbox (issue #17): customers' optional email address, sealed (``email_sealed``)
and found by its keyed hash (``email_key``), so a known sender's tier applies to an email ticket

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers") as table:
        table.add_column(sa.Column("email_key", sa.String(64)))
        table.add_column(sa.Column("email_sealed", sa.Text))
        table.create_index("ix_customers_email_key", ["email_key"])


def downgrade():
    with op.batch_alter_table("customers") as table:
        table.drop_index("ix_customers_email_key")
        table.drop_column("email_sealed")
        table.drop_column("email_key")
