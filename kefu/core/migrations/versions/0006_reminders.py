"""reminder outbox (催付/催缴) and bill payment time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subject_type", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("shop", sa.String(128)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", sa.DateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.String(255)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sending_at", sa.DateTime),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("subject_type", "subject_id", "seq", name="uq_reminder_subject_seq"),
    )
    op.create_index("ix_reminders_customer_id", "reminders", ["customer_id"])
    # The worker's claim query: due pending rows, oldest first, read in
    # index order (a planning round queues many rows with the same due_at).
    op.create_index("ix_reminders_status_due", "reminders", ["status", "due_at", "id"])
    op.create_index("ix_reminders_lease", "reminders", ["lease_owner"])
    op.create_index("ix_orders_status", "orders", ["status", "created_at"])
    op.create_index("ix_bills_status", "bills", ["status", "due_date"])
    op.add_column("bills", sa.Column("paid_at", sa.DateTime))
    # A trade id is unique across Taobao and Tmall (both topic prefixes may
    # bring the same trade): one order row per tid.
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("uq_order_platform_id", type_="unique")
        batch.create_unique_constraint("uq_order_id", ["order_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("uq_order_id", type_="unique")
        batch.create_unique_constraint("uq_order_platform_id", ["platform", "order_id"])
    op.drop_column("bills", "paid_at")
    op.drop_index("ix_bills_status", "bills")
    op.drop_index("ix_orders_status", "orders")
    op.drop_table("reminders")
