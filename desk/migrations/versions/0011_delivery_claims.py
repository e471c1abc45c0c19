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


def downgrade() -> None:
    with op.batch_alter_table("channel_deliveries") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("finished")
