"""Request and response bodies of companies, deals, tickets, associations and reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from convene_schemas.base import SupportedDatetime
from convene_schemas.events.common import RecordRef
from pydantic import BaseModel, Field, StringConstraints

from convene_records.api.models import CreateModel
from convene_records.domain.associations import Association
from convene_records.domain.crm import CrmRecord
from convene_records.domain.reports import ReportGroup

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=200)]
OwnerId = Annotated[str | None, Field(default=None, min_length=1, max_length=200)]


class CompanyCreate(CreateModel):
    """POST /companies."""

    name: Text
    domain: Annotated[str | None, Field(default=None, max_length=253)] = None
    owner_user_id: OwnerId = None


class DealCreate(CreateModel):
    """POST /deals; ``amount`` (a decimal string or number) needs ``currency``."""

    name: Text
    stage: Short
    amount: Decimal | None = None
    currency: Annotated[str | None, Field(default=None, pattern=r"^[A-Z]{3}$")] = None
    close_at: SupportedDatetime | None = None
    owner_user_id: OwnerId = None


class TicketCreate(CreateModel):
    """POST /tickets."""

    subject: Text
    status: Short
    priority: Literal["low", "medium", "high", "urgent"] | None = None
    owner_user_id: OwnerId = None


class TaskCreate(CreateModel):
    """POST /tasks: a to-do with an owner, a due time and a status (R7)."""

    title: Text
    owner_user_id: Annotated[str, Field(min_length=1, max_length=200)]
    due_at: SupportedDatetime | None = None
    status: Literal["not_started", "in_progress", "waiting", "completed",
                    "deferred"] = "not_started"
    associations: list[RecordRef] = Field(default_factory=list, max_length=100)


class CompanyUpdate(CreateModel):
    """PATCH /companies/{id}: only the fields sent change; null clears an optional one."""

    name: Text | None = None
    domain: Annotated[str | None, Field(default=None, max_length=253)] = None
    owner_user_id: OwnerId = None


class DealUpdate(CreateModel):
    """PATCH /deals/{id}."""

    name: Text | None = None
    stage: Short | None = None
    amount: Decimal | None = None
    currency: Annotated[str | None, Field(default=None, pattern=r"^[A-Z]{3}$")] = None
    close_at: SupportedDatetime | None = None
    owner_user_id: OwnerId = None


class TicketUpdate(CreateModel):
    """PATCH /tickets/{id}."""

    subject: Text | None = None
    status: Short | None = None
    priority: Literal["low", "medium", "high", "urgent"] | None = None
    owner_user_id: OwnerId = None


class TaskUpdate(CreateModel):
    """PATCH /tasks/{id}: e.g. a new status or due time (R7)."""

    title: Text | None = None
    owner_user_id: OwnerId = None
    due_at: SupportedDatetime | None = None
    status: Literal["not_started", "in_progress", "waiting", "completed",
                    "deferred"] | None = None
    associations: list[RecordRef] | None = Field(default=None, max_length=100)


class RecordRead(BaseModel):
    """Fields every company, deal and ticket shows."""

    id: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: CrmRecord) -> Any:
        return cls(id=record.id, version=record.version, created_at=record.created_at,
                   updated_at=record.updated_at, **record.properties)


class CompanyRead(RecordRead):
    """A company as the API shows it."""

    name: str
    domain: str | None = None
    owner_user_id: str | None = None


class DealRead(RecordRead):
    """A deal as the API shows it; ``amount`` is a decimal string."""

    name: str
    stage: str
    amount: str | None = None
    currency: str | None = None
    close_at: datetime | None = None
    owner_user_id: str | None = None


class TicketRead(RecordRead):
    """A ticket as the API shows it."""

    subject: str
    status: str
    priority: str | None = None
    owner_user_id: str | None = None


class TaskRead(RecordRead):
    """A task as the API shows it."""

    title: str
    owner_user_id: str
    due_at: datetime | None = None
    status: str
    associations: list[RecordRef] = Field(default_factory=list)


class AssociationCreate(CreateModel):
    """POST /associations: associate two records of the caller's account (R4)."""

    from_record: RecordRef
    to_record: RecordRef
    label: Annotated[str | None, Field(default=None, max_length=200)] = None


class AssociationRead(BaseModel):
    """An association; its id is the same whichever end is named first."""

    id: str
    from_record: RecordRef
    to_record: RecordRef
    label: str | None
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, association: Association) -> AssociationRead:
        return cls(id=association.id, from_record=association.from_record,
                   to_record=association.to_record, label=association.label,
                   version=association.version, updated_at=association.updated_at)


class AssociationList(BaseModel):
    """The current associations of one record."""

    items: list[AssociationRead]


class ReportGroupRead(BaseModel):
    """One value of the grouping field (null: no meeting type) and its meeting count."""

    key: str | None
    count: int

    @classmethod
    def of(cls, group: ReportGroup) -> ReportGroupRead:
        return cls(key=group.key, count=group.count)


class MeetingsReportRead(BaseModel):
    """GET /reports/meetings: meetings starting in [from, to), counted per group."""

    from_: datetime = Field(serialization_alias="from")
    to: datetime
    group_by: str
    total: int
    groups: list[ReportGroupRead]

