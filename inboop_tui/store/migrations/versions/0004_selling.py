"""Selling: leads, orders and their timelines, payment settings, what the team keeps about
contacts, and metadata on contacts and conversations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("agent_name", sa.Text()))
        batch.add_column(sa.Column("agent_phone", sa.Text()))
        batch.add_column(sa.Column("email", sa.Text()))
        batch.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("metadata", sa.Text(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("merged_into", sa.String(32)))
    op.create_index("ix_contacts_merged_into", "contacts", ["merged_into"])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("lead_id", sa.String(36)))
        batch.add_column(sa.Column("order_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("metadata", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("workspace") as batch:
        batch.add_column(sa.Column("payment_config", sa.Text()))
        batch.add_column(
            sa.Column("orders_created", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "leads",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(128)),
        sa.Column("value_amount", sa.BigInteger()),
        sa.Column("value_currency", sa.String(3)),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.String(32)),
        sa.Column("close_reason", sa.Text()),
        sa.Column("order_id", sa.String(36)),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger()),
    )
    op.create_index("ix_leads_created", "leads", ["created_at"])
    op.create_index("ix_leads_conversation", "leads", ["conversation_id"])
    op.create_table(
        "orders",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("number", sa.String(16)),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("customer_name", sa.Text(), nullable=False),
        sa.Column("customer_handle", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("payment_method", sa.String(16), nullable=False),
        sa.Column("payment_status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("lead_id", sa.String(36)),
        sa.Column("payment_provider", sa.String(32)),
        sa.Column("shipping_address", sa.Text(), nullable=False),
        sa.Column("region", sa.String(2)),
        sa.Column("tracking_number", sa.Text()),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("assignee", sa.String(128)),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("warnings", sa.Text(), nullable=False),
        sa.Column("timeline", sa.Text(), nullable=False),
        sa.Column("shipped_at", sa.String(32)),
        sa.Column("delivered_at", sa.String(32)),
        sa.Column("paid_at", sa.String(32)),
        sa.Column("seq", sa.BigInteger()),
    )
    op.create_index("ix_orders_created", "orders", ["created_at"])
    op.create_index("ix_orders_conversation", "orders", ["conversation_id"])
    op.create_index("ix_orders_lead", "orders", ["lead_id"])


def downgrade() -> None:
    op.drop_table("orders")
    op.drop_table("leads")
    with op.batch_alter_table("workspace") as batch:
        batch.drop_column("orders_created")
        batch.drop_column("payment_config")
    with op.batch_alter_table("conversations") as batch:
        for column in ("metadata", "order_count", "lead_id"):
            batch.drop_column(column)
    op.drop_index("ix_contacts_merged_into", "contacts")
    with op.batch_alter_table("contacts") as batch:
        for column in ("merged_into", "metadata", "notes", "email", "agent_phone", "agent_name"):
            batch.drop_column(column)
