"""One WhatsApp person, one conversation: every id a customer was seen by, and the id their
conversation is keyed by.

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
        "whatsapp_identities",
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("canonical", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_identities")
