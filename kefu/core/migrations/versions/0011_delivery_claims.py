"""delivery claims that finish, or expire when their server died

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before were answered (or given up) long ago: finished.
    with op.batch_alter_table("channel_deliveries") as batch:
        batch.add_column(sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("claimed_at", sa.DateTime))
        # A pulled message (WeCom) is not sent again by the platform: the
        # claim keeps it, so another server can answer it.
        batch.add_column(sa.Column("payload", sa.Text))
    # Every sync looks for unfinished claims: only those should be read.
    op.create_index("ix_channel_deliveries_open", "channel_deliveries", ["channel", "finished", "claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_channel_deliveries_open", "channel_deliveries")
    with op.batch_alter_table("channel_deliveries") as batch:
        batch.drop_column("payload")
        batch.drop_column("claimed_at")
        batch.drop_column("finished")
