"""ticket numbers are never given twice, even after the newest tickets are deleted

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

A ticket's number (KF000123) is its id, and customers quote it back. SQLite
hands out max(id) + 1 for a plain INTEGER PRIMARY KEY, so deleting the
customer who held the newest tickets (`kefu customer delete`) gave their
numbers to the next customers. AUTOINCREMENT keeps the highest id ever used
in sqlite_sequence; it can only be declared when the table is created, so
the table is rebuilt (the copy keeps every id, and sqlite_sequence starts at
the highest of them). PostgreSQL's SERIAL sequence already never goes back.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("tickets", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("tickets", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
