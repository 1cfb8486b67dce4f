"""records' domain: accounts, users, contacts, record timelines.

Pure code only: no pymongo, faststream, aiokafka, fastapi or other I/O imports. Rules are
functions and frozen dataclasses that tests exercise in microseconds; the events an
aggregate raises are the catalogue's models (``convene_schemas.events.records``).
"""
