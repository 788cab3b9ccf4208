"""hardening (issue #14): where an urgent complaint came from (``complaints.origin``, the keyed
hash of the client address, Telegram user or mail sender), counted by the urgent-complaint limit;
room for the random references of callbacks and appointments (``CB20261129-483928``)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("complaints") as table:
        table.add_column(sa.Column("origin", sa.String(64)))
        table.create_index("ix_complaints_origin", ["origin"])
    if op.get_bind().dialect.name != "sqlite":  # SQLite does not enforce a VARCHAR's length
        for name in ("callbacks", "appointments"):
            op.alter_column(name, "reference", type_=sa.String(20), existing_type=sa.String(16), existing_nullable=False)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        for name in ("callbacks", "appointments"):
            op.alter_column(name, "reference", type_=sa.String(16), existing_type=sa.String(20), existing_nullable=False)
    with op.batch_alter_table("complaints") as table:
        table.drop_index("ix_complaints_origin")
        table.drop_column("origin")
