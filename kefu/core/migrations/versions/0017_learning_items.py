"""learning items: what the bot did not understand, for supervisors to teach (issue 14)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learning_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(500), nullable=False, unique=True),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("examples", sa.JSON, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("predicted_intent", sa.String(64)),
        sa.Column("confidence", sa.Float),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("label_intent", sa.String(64)),
        sa.Column("kb_entry_id", sa.Integer, sa.ForeignKey("kb_entries.id", ondelete="SET NULL")),
        sa.Column("handled_by", sa.String(64)),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("handled_at", sa.DateTime),
    )
    op.create_index("ix_learning_items_status", "learning_items", ["status"])


def downgrade() -> None:
    op.drop_table("learning_items")
