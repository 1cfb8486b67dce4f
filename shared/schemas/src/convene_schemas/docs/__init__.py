"""Generated documentation of the event contract.

``python -m convene_schemas.docs`` writes ``docs/events.md`` (the human-readable catalogue)
and ``docs/asyncapi/<service>.yaml`` (AsyncAPI 3.0.0, one document per service) from the
models and the topic registry; ``--check`` exits 1 when the committed files are stale.
"""
