"""routing (ACD): agent presence and capacity, skill groups, assignment facts
on conversations, internal notes (issue 15)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# Every day, all day: a new installation routes at any hour until a
# supervisor sets the groups' working hours.
ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
GROUPS = [
    ("售前咨询", ["inquiry", "request_human"], []),
    ("售后", ["ticket_status"], []),
    ("物业报修", ["repair", "emergency"], []),
    ("投诉专席", ["complaint"], []),
    ("缴费", ["payment_reminder"], []),
]


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="offline"))
        batch.add_column(sa.Column("capacity", sa.Integer, nullable=False, server_default="5"))
        # Group names; NULL: every group (the default).
        batch.add_column(sa.Column("groups", sa.JSON))
        batch.add_column(sa.Column("last_seen_at", sa.DateTime))
        batch.add_column(sa.Column("last_routed_at", sa.DateTime))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("group_name", sa.String(64)))
        batch.add_column(sa.Column("category", sa.String(64)))
        batch.add_column(sa.Column("assigned_at", sa.DateTime))
        batch.add_column(sa.Column("first_reply_at", sa.DateTime))
        # The agent who last served the customer, kept when the bot takes over
        # again (the previous agent is asked first next time, within 24 h).
        batch.add_column(sa.Column("last_agent_id", sa.Integer))
        batch.add_column(sa.Column("last_agent_at", sa.DateTime))
        batch.add_column(sa.Column("closed_at", sa.DateTime))
    op.create_index("ix_conversations_queue", "conversations", ["status", "assignee_id"])
    groups = op.create_table(
        "skill_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("intents", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("hours", sa.JSON, nullable=False),
        sa.Column("holidays", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
    )
    op.bulk_insert(
        groups,
        [
            {
                "name": name,
                "intents": intents,
                "categories": categories,
                "channels": [],
                "hours": ALL_DAY,
                "holidays": [],
            }
            for name, intents, categories in GROUPS
        ],
    )
    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False, index=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("agents.id")),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversation_notes")
    op.drop_table("skill_groups")
    op.drop_index("ix_conversations_queue", "conversations")
    with op.batch_alter_table("conversations") as batch:
        for column in (
            "group_name",
            "category",
            "assigned_at",
            "first_reply_at",
            "last_agent_id",
            "last_agent_at",
            "closed_at",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("agents") as batch:
        for column in ("status", "capacity", "groups", "last_seen_at", "last_routed_at"):
            batch.drop_column(column)
