"""Emails in the attendee's language (R42): Italian, Finnish, else English; Babel dates."""

from __future__ import annotations

import pytest
from convene_notifications.composers import MeetingComposer
from convene_notifications.domain.planning import PlannedEmail, plan_invitations
from convene_notifications.rendering import Templates
from notifications_testing import NOW, SENDER, canceled, contact, meeting

COMPOSER = MeetingComposer(templates=Templates(), sender=SENDER)


def compose(planned: PlannedEmail, event):
    return COMPOSER.compose(planned, event, now=NOW,
                            message_id=planned.message_id(COMPOSER.message_id_domain))


def invitation_to(language: str | None, time_zone: str = "Europe/Rome"):
    event = meeting(attendees=[contact(language=language, time_zone=time_zone)])
    [planned] = plan_invitations(event)
    return compose(planned, event)


@pytest.mark.parametrize(("language", "subject", "body", "month"), [
    ("it", "Invito: Quarterly review @ ", "ti ha invitato a una riunione", "mar 2026"),
    ("fi", "Kutsu: Quarterly review @ ", "kutsui sinut kokoukseen", "ti 10.3.2026 15.00"),
    ("it-IT", "Invito: ", "Organizzatore", "mar 10 mar 2026 15:00"),
    ("en", "Invitation: ", "invited you to a meeting", "Mar 10, 2026"),
    ("de", "Invitation: ", "invited you to a meeting", "Mar 10, 2026"),
    (None, "Invitation: ", "invited you to a meeting", "Mar 10, 2026"),
])
def test_the_template_follows_the_attendee_language(language, subject, body, month) -> None:
    message = invitation_to(language)
    assert message["Subject"].startswith(subject)
    assert month in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert body in text and body in html


def test_italian_times_are_formatted_by_babel_in_the_attendee_zone() -> None:
    text = invitation_to("it").get_body(("plain",)).get_content()
    assert "15:00 (Europe/Rome), 30 minuti" in text


def test_a_finnish_cancellation_is_worded_in_finnish() -> None:
    event = canceled(meeting(attendees=[contact(language="fi")]), version=2)
    from convene_notifications.domain.planning import plan_cancellations
    [planned] = plan_cancellations(event)
    message = compose(planned, event)
    assert message["Subject"].startswith("Peruttu: ")
    assert "perui tämän kokouksen" in message.get_body(("plain",)).get_content()
