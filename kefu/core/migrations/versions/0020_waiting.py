"""the customer's side of waiting: what the waiting room last told each
waiting customer, and conversations the customer left (abandoned) (issue 15)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Where the desk is in Rasa's event broker (kefu/desk/event_feed.py), and
    # which desk process reads it: in the desk database, so a desk that hangs
    # never holds a lock on the file Rasa writes its events to.
    op.create_table(
        "feed_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.String(64)),
        sa.Column("held_until", sa.Float),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("wait_told_position", sa.Integer))
        batch.add_column(sa.Column("wait_told_at", sa.DateTime))
        batch.add_column(sa.Column("wait_acked_at", sa.DateTime))
        batch.add_column(sa.Column("wait_offered_at", sa.DateTime))
        batch.add_column(sa.Column("wait_message_asked", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("abandoned_at", sa.DateTime))
        # How long the latest agent held it (assignment to close or hand-back):
        # the waiting room's estimate reads the group's recent ones.
        batch.add_column(sa.Column("handle_seconds", sa.Integer))
        batch.add_column(sa.Column("handled_at", sa.DateTime))
        batch.create_index("ix_conversations_handled", ["group_name", "handled_at"])


def downgrade() -> None:
    op.drop_table("feed_cursors")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_handled")
        for name in (
            "handled_at",
            "handle_seconds",
            "abandoned_at",
            "wait_message_asked",
            "wait_offered_at",
            "wait_acked_at",
            "wait_told_at",
            "wait_told_position",
        ):
            batch.drop_column(name)
