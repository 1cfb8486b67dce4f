"""Record ids: a kind prefix and a random uuid4, so ids never collide across kinds.

records.events.v1 is compacted by key and its key is the aggregate id, whatever the kind:
a user's and a contact's id must never be equal, or compaction would drop one of them.
"""

from __future__ import annotations

import uuid

USER_ID_PREFIX = "usr_"
CONTACT_ID_PREFIX = "ct_"


def new_user_id() -> str:
    """A fresh user id (``usr_<32 hex>``)."""
    return USER_ID_PREFIX + uuid.uuid4().hex


def new_contact_id() -> str:
    """A fresh contact id (``ct_<32 hex>``)."""
    return CONTACT_ID_PREFIX + uuid.uuid4().hex
