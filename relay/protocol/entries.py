"""Every mutation type in one union: parsing, dedup keys and who may push what."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import Field, TypeAdapter

from relay.protocol.mutations import (
    AddNote,
    AssignConversation,
    DeleteCanned,
    SaveCanned,
    SendReply,
    SetConversationStatus,
    SetSla,
    TagConversation,
)
from relay.protocol.selling import (
    CloseLead,
    CreateLead,
    CreateOrder,
    MergeContacts,
    SetConversationMetadata,
    SetOrderPayment,
    SetOrderStatus,
    SetPaymentConfig,
    UpdateContact,
    UpdateLead,
    UpdateOrder,
)

AnyMutation = (
    AssignConversation
    | SetConversationStatus
    | TagConversation
    | AddNote
    | SetSla
    | SendReply
    | SaveCanned
    | DeleteCanned
    | CreateLead
    | UpdateLead
    | CloseLead
    | CreateOrder
    | UpdateOrder
    | SetOrderStatus
    | SetOrderPayment
    | SetPaymentConfig
    | UpdateContact
    | MergeContacts
    | SetConversationMetadata
)
Mutation = Annotated[AnyMutation, Field(discriminator="type")]

MUTATION_TYPES: frozenset[str] = frozenset(
    kind.model_fields["type"].default for kind in get_args(AnyMutation)
)
# Mutation types only an ADMIN may push, with what they do in words.
ADMIN_ONLY_MUTATIONS: dict[str, str] = {
    "workspace.sla": "change the workspace's SLA",
    "workspace.payments": "change the payment settings",
    "contact.update": "edit a contact",
    "contact.merge": "merge contacts",
}

mutation_adapter: TypeAdapter[Mutation] = TypeAdapter(Mutation)


def parse_mutation(data: dict[str, Any] | str | bytes) -> Mutation:
    if isinstance(data, str | bytes):
        return mutation_adapter.validate_json(data)
    return mutation_adapter.validate_python(data)


def mutation_dedup_key(mutation_id: str) -> str:
    return f"mut:{mutation_id}"


def admin_only(mutation: AnyMutation) -> str | None:
    """What this mutation does that only an ADMIN may, in words; None if a MEMBER may."""
    if mutation.type in ADMIN_ONLY_MUTATIONS:
        return ADMIN_ONLY_MUTATIONS[mutation.type]
    if isinstance(mutation, SetOrderPayment) and mutation.payload.status == "REFUNDED":
        return "mark an order refunded"
    return None
