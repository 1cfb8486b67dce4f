"""The public page's words and dates in the page's language (en, it, fi).

Words come from one catalogue per language (``catalogues/<language>.json``, the same keys in
each; a test checks it). Dates, weekday and month names and times come from Babel (CLDR),
as the invitation emails' do in notifications, so the confirmation shows a time the way the
email will, and Finnish gets its case forms right ("maaliskuu 2026" as a heading,
"3. maaliskuuta 2026" in a date).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time

LANGUAGES = ("en", "it", "fi")
DEFAULT_LANGUAGE = "en"


@cache
def catalogue(language: str) -> dict[str, str]:
    """The messages of ``language`` (one of :data:`LANGUAGES`), by key."""
    text = files("convene_booking_pages.web").joinpath("catalogues", f"{language}.json")
    messages: dict[str, str] = json.loads(text.read_text(encoding="utf-8"))
    return messages


def negotiate(accept_language: str | None) -> str:
    """The first of :data:`LANGUAGES` the browser asks for (``Accept-Language``), for pages
    shown before a scheduling page is known (404, 429); English otherwise."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = tag.strip().lower().split("-")[0]
        if language in LANGUAGES and quality > 0:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def _plain(text: str) -> str:
    # CLDR puts a narrow no-break space before AM/PM: a no-break space every font has.
    return text.replace("\u202f", "\u00a0")


class Messages:
    """Words and dates of one language; called in templates as ``t("key", name=value)``."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self.locale = Locale.parse(self.language)
        self._texts = catalogue(self.language)

    def __contains__(self, key: object) -> bool:
        return key in self._texts

    def __call__(self, key: str, **values: object) -> str:
        text = self._texts[key]
        return text.format(**values) if values else text

    def count(self, key: str, count: int) -> str:
        """``key.one`` or ``key.other`` with ``{count}`` (en, it and fi share the rule)."""
        return self(f"{key}.{'one' if count == 1 else 'other'}", count=count)

    def month_title(self, month: date) -> str:
        """``March 2026``, ``marzo 2026``, ``maaliskuu 2026``."""
        return format_skeleton("yMMMM", month, locale=self.locale)

    def long_date(self, day: date) -> str:
        """``Tuesday, March 3, 2026``, ``martedì 3 marzo 2026``, ``tiistai 3. maaliskuuta 2026``."""
        return format_date(day, "full", locale=self.locale)

    def time(self, instant: datetime, zone: ZoneInfo) -> str:
        """The local time of ``instant`` in ``zone``: ``4:00 AM``, ``04:00``, ``4.00``."""
        return _plain(format_time(instant.astimezone(zone), "short", locale=self.locale))

    def first_weekday(self) -> int:
        """The first column of the month view (0 = Monday)."""
        return int(self.locale.first_week_day)

    def weekdays(self) -> list[tuple[str, str]]:
        """(abbreviated, full) weekday names from :meth:`first_weekday` on."""
        short = self.locale.days["stand-alone"]["abbreviated"]
        wide = self.locale.days["stand-alone"]["wide"]
        first = self.first_weekday()
        return [(short[(first + i) % 7], wide[(first + i) % 7]) for i in range(7)]
