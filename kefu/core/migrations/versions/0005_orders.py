"""orders from Taobao/Tmall trade events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("shop", sa.String(128)),
        sa.Column("buyer", sa.String(128)),
        sa.Column("amount_cents", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime),
        sa.Column("paid_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("platform", "order_id", name="uq_order_platform_id"),
    )
    op.create_index("ix_orders_buyer", "orders", ["platform", "buyer"])


def downgrade() -> None:
    op.drop_table("orders")
