"""honest waiting (issue #17): what a waiting customer was told and chose — the last
acknowledgement of their messages (at most one a minute), the one callback offer, a message left
for the agents instead of waiting live, and the callback booked in place of the wait at closing

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from bot.core.time import ShanghaiTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

COLUMNS = ("acknowledged_at", "callback_offered_at", "left_message_at")


def upgrade():
    with op.batch_alter_table("handoffs") as table:
        for name in COLUMNS:
            table.add_column(sa.Column(name, ShanghaiTime()))
        table.add_column(sa.Column("callback_reference", sa.String(20)))


def downgrade():
    with op.batch_alter_table("handoffs") as table:
        table.drop_column("callback_reference")
        for name in reversed(COLUMNS):
            table.drop_column(name)
