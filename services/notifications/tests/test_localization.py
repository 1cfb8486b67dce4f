"""Language and time-zone fallback (issue 8): the recipient's own, else the account's
default from the read model, else English and the meeting's zone; and the read models that
feed it (version-guarded)."""

from __future__ import annotations

import pytest
from convene_notifications.domain.localization import (
    AccountDefaults,
    recipient_language,
    recipient_time_zone,
    with_account_defaults,
)
from convene_notifications.timer_store import REMINDER_TIMERS
from convene_schemas.events.common import ReminderOffset
from notifications_testing import (
    consume,
    contact,
    meeting,
    settings_changed,
    updated,
    user_upserted,
)

ITALIAN = AccountDefaults(language="it", time_zone="Europe/Helsinki")


def test_the_recipients_own_language_wins_then_the_accounts_then_english() -> None:
    assert recipient_language("fi", ITALIAN) == "fi"
    assert recipient_language(None, ITALIAN) == "it"
    assert recipient_language(None, AccountDefaults()) == "en"
    assert recipient_language(None, None) == "en"


def test_the_recipients_own_time_zone_wins_then_the_accounts_then_the_meetings() -> None:
    assert recipient_time_zone("Asia/Tokyo", ITALIAN, "Europe/Rome") == "Asia/Tokyo"
    assert recipient_time_zone(None, ITALIAN, "Europe/Rome") == "Europe/Helsinki"
    assert recipient_time_zone(None, None, "Europe/Rome") == "Europe/Rome"


def test_account_defaults_fill_only_what_an_attendee_lacks() -> None:
    bare = contact("bare@globex.example", language=None, time_zone=None)
    finnish = contact("fi@globex.example", language="fi", time_zone=None)
    base = meeting(attendees=[bare, finnish])
    change = updated(base, removed=[contact("gone@globex.example", language=None)],
                     changed_fields=["attendees"])

    filled = with_account_defaults(change, ITALIAN)

    assert [(a.language, a.time_zone) for a in filled.attendees] == [
        ("it", "Europe/Helsinki"), ("fi", "Europe/Helsinki")]
    assert filled.removed_attendees[0].language == "it"
    assert with_account_defaults(base, None) is base


@pytest.mark.contract
async def test_a_contact_without_a_language_gets_the_accounts_language_and_zone(
        service, mailer, store) -> None:
    bare = contact("bare@globex.example", language=None, time_zone=None)
    own = contact("own@globex.example", language="fi", time_zone="Europe/Helsinki")
    event = meeting(attendees=[bare, own], reminders=[ReminderOffset(amount=1, unit="days")])

    await consume(service, settings_changed(language="it", time_zone="America/Chicago"), event)

    [to_bare] = mailer.messages_to("bare@globex.example")
    [to_own] = mailer.messages_to("own@globex.example")
    assert to_bare["Subject"].startswith("Invito: Quarterly review @ ")
    assert to_bare["Subject"].endswith("(America/Chicago)")
    assert to_own["Subject"].startswith("Kutsu: ")
    [timer] = store.collection(REMINDER_TIMERS).docs.values()
    assert {(r["email"], r["language"], r["time_zone"]) for r in timer["recipients"]} == {
        ("bare@globex.example", "it", "America/Chicago"),
        ("own@globex.example", "fi", "Europe/Helsinki")}


@pytest.mark.contract
async def test_without_the_accounts_settings_english_and_the_meetings_zone(
        service, mailer) -> None:
    event = meeting(attendees=[contact("bare@globex.example", language=None, time_zone=None)])

    await consume(service, event)

    [message] = mailer.messages_to("bare@globex.example")
    assert message["Subject"].startswith("Invitation: ")
    assert message["Subject"].endswith("(Europe/Rome)")


async def test_read_models_keep_the_newest_version_only(service) -> None:
    models = service.deps.read_models
    newer = user_upserted(user_id="usr_olga", version=3, language="fi")
    older = user_upserted(user_id="usr_olga", version=2, language="it")

    assert await models.record_user(newer)
    assert not await models.record_user(older)
    assert not await models.record_user(newer)  # a redelivery
    assert (await models.user("acc_1", "usr_olga")).language == "fi"
    assert await models.user("acc_other", "usr_olga") is None  # another account's id

    assert await models.record_account_settings(settings_changed(version=5, language="fi"))
    assert not await models.record_account_settings(settings_changed(version=4, language="it"))
    assert (await models.account_defaults("acc_1")).language == "fi"
    assert await models.account_defaults("acc_other") is None
