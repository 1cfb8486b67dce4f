"""The notifications process: FastAPI + FastStream in one process.

Run it with ``python -m convene_notifications``.
"""

from convene_kit.runtime import serve

from convene_notifications.bootstrap import bootstrap


def main() -> None:
    service = bootstrap()
    serve(service.app, service.settings)
