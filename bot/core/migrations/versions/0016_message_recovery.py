"""hardening (issue #14): button payloads issued by the service, per-message answer attempts
(backoff, parking), the keyed origin of a message, and Rasa's conversation state kept in the
database (bot/tracker_store.py)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("payload", sa.Text))
        table.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
        table.add_column(sa.Column("origin", sa.String(64)))
    op.create_table(
        "assistant_trackers",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("tracker", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("assistant_trackers")
    with op.batch_alter_table("messages") as table:
        table.drop_column("origin")
        table.drop_column("next_attempt_at")
        table.drop_column("attempts")
        table.drop_column("payload")
