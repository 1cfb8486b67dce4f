"""Convene calendar-sync service."""
