"""one row per wait in the desk's queue, for the reports: when the customer
was queued, answered (by whom), left, or turned the wait into a 留言
(issue 15)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_waits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("group_name", sa.String(64)),
        sa.Column("priority", sa.String(16), nullable=False, server_default="normal"),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.Column("assigned_at", sa.DateTime),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id")),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("abandoned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("left_message", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_queue_waits_queued_at", "queue_waits", ["queued_at"])
    op.create_index("ix_queue_waits_conversation", "queue_waits", ["conversation_id", "ended_at"])
    op.create_index("ix_queue_waits_customer", "queue_waits", ["customer_id"])


def downgrade() -> None:
    op.drop_table("queue_waits")
