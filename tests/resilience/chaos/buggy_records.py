"""records with a bug: the real service, built by its own ``bootstrap`` and served as
``python -m convene_records`` serves it, except that its meeting handlers reject (raise
``MessageRejected``) every meeting whose title contains ``$BUGGY_RECORDS_MARKER``, as a
bad deploy would. Those events go to the DLQ; the fix is starting records normally again,
and replaying the DLQ then delivers them. records itself has no fault injection.

Started by ``Supervised.restart("records", module=MODULE, extra={MARKER_VARIABLE: ...,
"PYTHONPATH": <tests/resilience>})``.
"""

from __future__ import annotations

import dataclasses
import os

import convene_records.bootstrap as records_bootstrap
from convene_kit.consumer import Handlers, MessageRejected
from convene_kit.runtime import serve
from convene_records.handlers import build_handlers

MODULE = "chaos.buggy_records"
MARKER_VARIABLE = "BUGGY_RECORDS_MARKER"


def buggy_handlers(deps) -> Handlers:  # noqa: ANN001 - records' RecordsDeps
    marker = os.environ[MARKER_VARIABLE]
    handlers = build_handlers(deps)
    for event_class, route in list(handlers._routes.items()):
        async def call(envelope, meta, route=route):  # noqa: ANN001
            if marker in str(getattr(envelope.event, "title", "")):
                raise MessageRejected(f"simulated bug: records cannot project {marker} meetings")
            return await route.call(envelope, meta)

        handlers._routes[event_class] = dataclasses.replace(route, call=call)
    return handlers


def main() -> None:
    records_bootstrap.build_handlers = buggy_handlers  # type: ignore[assignment]
    service = records_bootstrap.bootstrap()
    serve(service.app, service.settings)


if __name__ == "__main__":
    main()
