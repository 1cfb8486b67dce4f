"""What the service functions, views and handlers are given: repositories, the versioned
aggregates (revision log and outbox), the adapters, the keyring, the clock.

Built once by :func:`convene_calendar_sync.bootstrap.bootstrap`; tests build it with fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from convene_kit.aggregates import Aggregates
from convene_kit.claims import Claims
from convene_kit.clock import Clock, utc_now
from convene_kit.read_models import VersionedReadModel
from convene_kit.secret_box import SecretBox
from convene_kit.timers import Timers

from convene_calendar_sync.adapters import AdapterFactory
from convene_calendar_sync.busy_store import BusyMirror
from convene_calendar_sync.settings import CalendarSyncSettings
from convene_calendar_sync.store import (
    Channels,
    ConnectionRepository,
    CredentialStore,
    MeetingLinks,
    OAuthStates,
    SyncedEventRepository,
    SyncStates,
    TaskLinks,
    UserSlots,
)


@dataclass
class Deps:
    """The dependencies of calendar-sync's service functions."""

    settings: CalendarSyncSettings
    connections: ConnectionRepository
    synced_events: SyncedEventRepository
    aggregates: Aggregates  # connections and synced events (revision log, outbox)
    credentials: CredentialStore
    slots: UserSlots
    oauth_states: OAuthStates
    links: MeetingLinks
    sync_states: SyncStates
    channels: Channels
    busy: BusyMirror
    users: VersionedReadModel
    contacts: VersionedReadModel
    tasks: VersionedReadModel  # records' tasks (R33)
    task_links: TaskLinks
    timers: Timers
    leases: Claims
    box: SecretBox
    adapters: AdapterFactory
    clock: Clock = field(default=utc_now)
