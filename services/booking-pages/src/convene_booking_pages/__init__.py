"""Convene booking-pages service."""
