"""model registry: every trained NLU model, its gate metrics and which one is live (issue 14)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nlu_models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("reason", sa.String(1000)),
        sa.Column("requested_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
        sa.Column("activated_at", sa.DateTime),
    )
    op.create_index("ix_nlu_models_status", "nlu_models", ["status"])


def downgrade() -> None:
    op.drop_table("nlu_models")
