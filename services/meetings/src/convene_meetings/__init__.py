"""Convene meetings service."""
