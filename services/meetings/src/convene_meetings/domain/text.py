"""The attendee description is HTML that reaches attendees' mail clients: sanitise it.

Only basic formatting survives (the contract in ``MeetingSnapshot.attendee_description``:
p, br, b, i, u, a[href], ul, ol, li). Scripts and styles are removed with their content;
every other attribute (``onerror``, ``style``, ``onclick``) is dropped, and links keep only
http, https and mailto targets.
"""

from __future__ import annotations

import nh3

from convene_meetings.domain.errors import RuleViolation

ALLOWED_TAGS: frozenset[str] = frozenset({"p", "br", "b", "i", "u", "a", "ul", "ol", "li"})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}}
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
MAX_DESCRIPTION_CHARS = 20000
"""The event schema's bound on attendee_description, checked after sanitising."""


def sanitise_attendee_description(html: str | None) -> str:
    """``html`` with everything but basic formatting removed ("" for None)."""
    if not html:
        return ""
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=None,  # a[href] only: the contract allows no rel attribute
    ).strip()
    if len(cleaned) > MAX_DESCRIPTION_CHARS:
        raise RuleViolation(
            "attendee_description_too_long",
            f"The attendee description is longer than {MAX_DESCRIPTION_CHARS} characters.",
            {"max_chars": MAX_DESCRIPTION_CHARS, "chars": len(cleaned)},
        )
    return cleaned
