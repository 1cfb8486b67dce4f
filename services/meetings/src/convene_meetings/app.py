"""The meetings process: FastAPI + FastStream in one process (``python -m convene_meetings``)."""

from convene_kit.runtime import serve

from convene_meetings.bootstrap import bootstrap


def main() -> None:
    """Build the service from the environment and serve it until SIGTERM/SIGINT."""
    service = bootstrap()
    serve(service.app, service.settings)
