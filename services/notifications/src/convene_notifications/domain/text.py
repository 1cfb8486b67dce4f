"""The attendee description as plain text: what the .ics DESCRIPTION and the emails show.

The meetings service keeps the description as sanitised HTML (p, br, b, i, u, a[href], ul,
ol, li). Calendar clients show DESCRIPTION as plain text, and the email bodies escape it
again rather than trust markup from upstream, so both start from :func:`html_to_text`.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}
_SKIPPED = {"script", "style", "head", "title", "template"}
_INLINE_SPACE = re.compile(r"[ \t\r\f\v]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.lists: list[list[int]] = []  # one counter per open list; -1 for <ul>
        self.links: list[tuple[str | None, int]] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
            if tag in {"ul", "ol"}:
                self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            counter = self.lists[-1] if self.lists else [-1]
            if counter[0] >= 0:
                counter[0] += 1
                self.parts.append(f"\n{counter[0]}. ")
            else:
                self.parts.append("\n- ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
            if tag in {"ul", "ol"} and self.lists:
                self.lists.pop()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.parts[start:]).strip()
            if href and href.strip() and href.strip() != label:
                self.parts.append(f" ({href.strip()})")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(_INLINE_SPACE.sub(" ", data.replace("\n", " ")))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML fragment: paragraphs, line breaks, list items and
    link targets kept; tags, scripts and control characters gone."""
    if not html.strip():
        return ""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = "".join(collector.parts)
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
