"""Imports every event module so each model is registered."""
