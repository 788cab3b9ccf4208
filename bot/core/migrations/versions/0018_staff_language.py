"""issue #17: the console language each staff member prefers (``staff.language``, zh or en)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff") as table:
        table.add_column(sa.Column("language", sa.String(2), nullable=False, server_default="zh"))


def downgrade():
    with op.batch_alter_table("staff") as table:
        table.drop_column("language")
