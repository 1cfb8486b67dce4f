"""Convene's operator command line, ``convene``: topics, dead-letter queues, development
tokens, and the calendar-sync commands still to come. See ``convene --help`` and
docs/operations.md."""
