"""What the event handlers call: every service of notifications, built once by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from convene_notifications.read_models import ReadModels
from convene_notifications.service_layer.meeting_emails import MeetingEmails
from convene_notifications.service_layer.owner_emails import OwnerEmails
from convene_notifications.service_layer.reminders import ReminderEmails, ReminderPlanner


@dataclass(frozen=True)
class Deps:
    """The services behind notifications' subscribers."""

    meeting_emails: MeetingEmails
    reminder_planner: ReminderPlanner
    reminder_emails: ReminderEmails
    read_models: ReadModels
    owner_emails: OwnerEmails
