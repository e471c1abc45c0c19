"""satisfaction surveys (满意度调查)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "ticket_id", sa.Integer, sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id")),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.Column("score", sa.Integer),
        sa.Column("answered_at", sa.DateTime),
    )
    op.create_index("ix_surveys_customer_id", "surveys", ["customer_id"])


def downgrade() -> None:
    op.drop_table("surveys")
