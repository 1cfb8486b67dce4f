"""A Google Calendar v3 + OAuth 2.0 emulator for google-api-python-client and google-auth.

Run it with `python -m infra.emulators.google_calendar --port N` (or `python -m
infra.servers.google up`), or in-process with `EmulatorThread`; drive its world with the
admin API (`client.EmulatorAdmin`). What it emulates and what it leaves out: README.md here.
"""
