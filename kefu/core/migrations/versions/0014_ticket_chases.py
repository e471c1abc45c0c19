"""ticket chases (催单) and customer entries on a ticket's timeline

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

A customer who writes again about an open ticket has the message added to
its timeline (kind "customer", once per incoming message: source_message_id);
"还没人来修" on an overdue ticket is a chase: counted on the ticket, with the
time and the new promise, so the owner sees it first.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("chases", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("chased_at", sa.DateTime))
        batch.add_column(sa.Column("chase_due_at", sa.DateTime))
    # The desk's live feed asks "chased since …?" every second per open page.
    op.create_index("ix_tickets_chased_at", "tickets", ["chased_at"])
    with op.batch_alter_table("ticket_events") as batch:
        batch.add_column(sa.Column("kind", sa.String(16)))
        batch.add_column(sa.Column("source_message_id", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("ticket_events") as batch:
        batch.drop_column("source_message_id")
        batch.drop_column("kind")
    op.drop_index("ix_tickets_chased_at", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("chase_due_at")
        batch.drop_column("chased_at")
        batch.drop_column("chases")
