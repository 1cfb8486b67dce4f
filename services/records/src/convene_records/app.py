"""The records process: FastAPI + FastStream in one process (``python -m convene_records``)."""

from convene_kit.runtime import serve

from convene_records.bootstrap import bootstrap


def main() -> None:
    service = bootstrap()
    serve(service.app, service.settings)
