"""Associations between two records of any kinds (R4).

An association's id is derived from its two ends, in either order, so associating A with B
and B with A is one association, and its ``AssociationChanged`` events share one key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from convene_schemas.events.common import RecordRef
from convene_schemas.events.records import AssociationChanged

from convene_records.domain.versions import FIRST_VERSION, next_version


class SelfAssociation(ValueError):
    """A record cannot be associated with itself."""


@dataclass(frozen=True)
class Association:
    """Two associated records; ``associated`` is False once removed."""

    id: str
    account_id: str
    from_record: RecordRef
    to_record: RecordRef
    label: str | None
    associated: bool
    updated_at: datetime
    version: int = FIRST_VERSION


def association_id(account_id: str, one: RecordRef, other: RecordRef) -> str:
    """The id of the association of ``one`` and ``other``, the same in both directions."""
    ends = sorted(f"{r.kind}:{r.id}" for r in (one, other))
    digest = hashlib.sha256("|".join([account_id, *ends]).encode()).hexdigest()[:32]
    return f"asc_{digest}"


def associate(account_id: str, one: RecordRef, other: RecordRef, label: str | None, *,
              now: datetime, previous: Association | None = None) -> Association:
    """The association of two records, new or restored after a removal (next version)."""
    if (one.kind, one.id) == (other.kind, other.id):
        raise SelfAssociation("A record cannot be associated with itself.")
    version = FIRST_VERSION if previous is None else next_version(previous.version)
    return Association(id=association_id(account_id, one, other), account_id=account_id,
                       from_record=one, to_record=other, label=label, associated=True,
                       updated_at=now, version=version)


def dissociate(association: Association, *, now: datetime) -> Association:
    """The association removed, at the next version."""
    return replace(association, associated=False, updated_at=now,
                   version=next_version(association.version))


def association_changed(association: Association) -> AssociationChanged:
    """The event carrying the association as it is now."""
    return AssociationChanged(
        account_id=association.account_id, version=association.version,
        occurred_at=association.updated_at, association_id=association.id,
        from_record=association.from_record, to_record=association.to_record,
        associated=association.associated, label=association.label)
