"""Convene event contract."""
