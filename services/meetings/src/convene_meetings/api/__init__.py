"""meetings' HTTP API (routers), besides the kit's /healthz, /readyz, /metrics and /docs."""

from fastapi import APIRouter

from convene_meetings.api.changes import router as changes_router
from convene_meetings.api.meetings import router as meetings_router

ROUTERS: list[APIRouter] = [meetings_router, changes_router]
