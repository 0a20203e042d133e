"""Room for the longest ids Meta documents: WhatsApp's business-scoped user ids are a country
code and up to 128 letters and digits (parent ids add ``ENT.``), and dedup keys are built from
such ids. SQLite does not enforce a text column's length; PostgreSQL does, so only there are
the columns widened.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WIDER = {
    "events": {"account_id": 256, "customer_id": 256, "dedup_key": 1024},
    "outbound": {"account_id": 256, "customer_id": 256},
    "profile_lookups": {"account_id": 256, "customer_id": 256},
    "media": {"account_id": 256, "customer_id": 256},
    "whatsapp_identities": {"account_id": 256, "alias": 256, "canonical": 256},
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in WIDER.items():
        for column, length in columns.items():
            op.alter_column(table, column, type_=sa.String(length))


def downgrade() -> None:
    """Nothing to undo: the wider columns hold whatever the narrower ones did."""
