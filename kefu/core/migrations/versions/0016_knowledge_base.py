"""knowledge base: entries the bot answers from, and their revision (issue 14)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

Every action server keeps an index of the enabled entries in memory and
rebuilds it when `kb_revision.revision` moves, so an edit in the desk is live
without a restart.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("question", sa.String(500), nullable=False, unique=True),
        sa.Column("similar", sa.JSON, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("hits", sa.Integer, nullable=False, server_default="0"),
        sa.Column("helpful", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unhelpful", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "kb_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.bulk_insert(sa.table("kb_revision", sa.column("id"), sa.column("revision")), [{"id": 1, "revision": 0}])


def downgrade() -> None:
    op.drop_table("kb_revision")
    op.drop_table("kb_entries")
