"""The customer of each fetched attachment, so the relay can tell every replica how its fetch
ended (``attachment.fetched``) on the right conversation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_column("customer_id")
