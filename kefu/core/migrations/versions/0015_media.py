"""media: photos, voice and video customers send (issue 13)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

The files live under KEFU_MEDIA_DIR; a row names its file (a random name,
never the customer's) and what the platform called it (media id, picture
URL), so a picture that could not be downloaded is still on record.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id", ondelete="SET NULL")),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id", ondelete="SET NULL")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64)),
        sa.Column("size", sa.Integer),
        sa.Column("sha256", sa.String(64)),
        sa.Column("stored_name", sa.String(128)),
        sa.Column("source_ref", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_media_customer_id", "media", ["customer_id"])
    op.create_index("ix_media_ticket_id", "media", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("media")
