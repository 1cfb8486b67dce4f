"""Convene records service."""
