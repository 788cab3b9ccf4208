"""sealed mobile numbers, and links to them from complaints and bookings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "personal_numbers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(80), nullable=False, index=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("masked", sa.String(20), nullable=False),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for table, column in (("complaints", "contact_ref"), ("callbacks", "mobile_ref"), ("appointments", "mobile_ref")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Integer, sa.ForeignKey("personal_numbers.id", name=f"fk_{table}_{column}")))


def downgrade():
    for table, column in (("complaints", "contact_ref"), ("callbacks", "mobile_ref"), ("appointments", "mobile_ref")):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_table("personal_numbers")
