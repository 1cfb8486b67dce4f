"""Whether a record of any kind is there: what associations and timelines check first."""

from __future__ import annotations

from convene_records.service_layer.deps import RecordsDeps


async def record_exists(deps: RecordsDeps, account_id: str, kind: str, record_id: str) -> bool:
    """True if a live record of ``kind`` (contact, company, deal, ticket, task) exists."""
    repository = deps.contacts if kind == "contact" else deps.crm.get(kind)
    if repository is None:
        return False
    found = await repository.get(account_id, record_id)
    return found is not None and not found.deleted
