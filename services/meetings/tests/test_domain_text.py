"""Sanitising the attendee description (R11): formatting stays, code goes."""

from __future__ import annotations

import pytest
from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.text import sanitise_attendee_description


def test_scripts_are_removed_with_their_content() -> None:
    cleaned = sanitise_attendee_description("<p>Agenda</p><script>steal(document.cookie)</script>")
    assert cleaned == "<p>Agenda</p>"


def test_event_handler_attributes_are_dropped() -> None:
    cleaned = sanitise_attendee_description(
        '<p onclick="x()">Hi <img src="x" onerror="alert(1)"><b onmouseover="y()">there</b></p>'
    )
    assert "onerror" not in cleaned and "onclick" not in cleaned and "onmouseover" not in cleaned
    assert "<img" not in cleaned
    assert cleaned == "<p>Hi <b>there</b></p>"


def test_basic_formatting_and_safe_links_are_kept() -> None:
    html = ('<p>Agenda:<br><b>goals</b>, <i>tour</i>, <u>pricing</u></p>'
            '<ul><li>one</li></ul><ol><li>two</li></ol><a href="https://globex.example/q2">deck</a>')
    assert sanitise_attendee_description(html) == html


def test_javascript_links_lose_their_target() -> None:
    cleaned = sanitise_attendee_description('<a href="javascript:alert(1)">click</a>')
    assert cleaned == "<a>click</a>"


def test_styles_and_unknown_tags_are_stripped() -> None:
    cleaned = sanitise_attendee_description(
        '<style>p{display:none}</style><div style="color:red">text</div><iframe src="x"></iframe>'
    )
    assert cleaned == "text"


def test_nothing_stays_nothing() -> None:
    assert sanitise_attendee_description(None) == ""
    assert sanitise_attendee_description("") == ""


def test_a_description_too_long_after_sanitising_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        sanitise_attendee_description("<" * 6000)  # each becomes &lt; (4 chars)
    assert refused.value.code == "attendee_description_too_long"
