"""initial schema: agents, tokens, conversations, tickets, customer facts

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "agent_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(64)),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.Integer, sa.ForeignKey("agents.id")),
        sa.Column("last_message", sa.Text),
        sa.Column("handoff_reason", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("waiting_since", sa.DateTime),
    )
    op.create_index("ix_conversations_status", "conversations", ["status"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False, index=True),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("agents.id")),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("opening_message", sa.Text, nullable=False),
        sa.Column("source_message_id", sa.String(128), nullable=False),
        sa.Column("room", sa.String(128)),
        sa.Column("phone", sa.String(32)),
        sa.Column("order_id", sa.String(32)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("customer_id", "source_message_id", name="uq_ticket_source_message"),
    )
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_table(
        "customer_facts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source_message_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("customer_id", "source_message_id", "kind", name="uq_fact_source_message"),
    )


def downgrade() -> None:
    op.drop_table("customer_facts")
    op.drop_table("tickets")
    op.drop_table("conversations")
    op.drop_table("agent_tokens")
    op.drop_table("agents")
