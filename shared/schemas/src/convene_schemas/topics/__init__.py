"""The topic registry's YAML files (package data), and the ``ensure`` command.

``python -m convene_schemas.topics ensure --bootstrap HOST:PORT`` creates or verifies every
topic and its dead-letter topic on a broker; see :mod:`convene_schemas.topics.ensure`.
"""
