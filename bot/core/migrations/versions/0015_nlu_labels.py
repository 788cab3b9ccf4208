"""supervisors' labels of misunderstood customer messages (the review, bot/quality/review.py)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "nlu_labels",
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), primary_key=True),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("labelled_by", sa.String(64), nullable=False),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("nlu_labels")
