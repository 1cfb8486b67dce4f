"""Email texts from Jinja2 templates, one folder per language (``templates/<lang>/``).

Each family of emails has three templates (invitations, updates and cancellations share
the ``invitation`` family and word themselves after ``kind``): ``<family>.subject.txt``
(one line), ``<family>.txt`` (the text/plain body) and ``<family>.html`` (the text/html
body, autoescaped: every value a user typed is escaped, and the attendee description
arrives as plain text, never as markup). A language missing a template falls back to its
base language (``pt-BR`` -> ``pt``) and then to English, so Italian or Finnish are added by adding a folder.
Dates and times are formatted by Babel in the recipient's language and time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape
from markupsafe import Markup, escape

DEFAULT_LANGUAGE = "en"

TEMPLATE_FAMILY = {"invitation": "invitation", "update": "invitation",
                   "cancellation": "invitation"}
"""Which templates an email kind uses."""


def family_of(kind: str) -> str:
    """The template family of an email kind (itself when it has its own)."""
    return TEMPLATE_FAMILY.get(kind, kind)


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LANGUAGE)


def format_when(instant: datetime, time_zone: str, language: str) -> str:
    """``instant`` as a local date and time, e.g. ``Tue, Mar 10, 2026 3:00 PM``."""
    local = instant.astimezone(ZoneInfo(time_zone))
    locale = _locale(language)
    day = format_skeleton("yMMMEd", local, locale=locale)
    text = f"{day} {format_time(local, 'short', locale=locale)}"
    return text.replace("\u202f", " ").replace("\u00a0", " ")  # plain spaces in headers


def paragraphs(text: str) -> Markup:
    """Plain text as escaped HTML paragraphs (blank lines split them, newlines are <br>)."""
    blocks = [block for block in text.split("\n\n") if block.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in lines))
        for lines in (block.split("\n") for block in blocks)
    )


class Templates:
    """The email templates shipped in the package (or any Jinja2 loader, for tests)."""

    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment(
            loader=PackageLoader("convene_notifications", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment.filters["paragraphs"] = paragraphs

    def languages_for(self, language: str | None) -> list[str]:
        """The template folders to try, best first."""
        tried = [language, language.split("-")[0] if language else None, DEFAULT_LANGUAGE]
        return list(dict.fromkeys(lang for lang in tried if lang))

    def language_of(self, kind: str, language: str | None) -> str:
        """The language whose templates of ``kind`` will be used."""
        for candidate in self.languages_for(language):
            try:
                self.environment.get_template(f"{candidate}/{family_of(kind)}.txt")
            except TemplateNotFound:
                continue
            return candidate
        raise TemplateNotFound(f"{DEFAULT_LANGUAGE}/{family_of(kind)}.txt")

    def render(self, kind: str, language: str, part: str, context: Mapping[str, Any]) -> str:
        """One part (``subject.txt``, ``txt``, ``html``) of the ``kind`` email."""
        template = self.environment.get_template(f"{language}/{family_of(kind)}.{part}")
        return template.render({"kind": kind, **context})
