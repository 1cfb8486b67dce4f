"""FastAPI dependencies of records' views."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from convene_records.service_layer.deps import RecordsDeps


def records_deps(request: Request) -> RecordsDeps:
    """The service's repositories and publisher, put on the app by ``bootstrap``."""
    deps: RecordsDeps = request.app.state.records_deps
    return deps


Deps = Annotated[RecordsDeps, Depends(records_deps)]
