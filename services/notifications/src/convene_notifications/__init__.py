"""Convene notifications service."""
