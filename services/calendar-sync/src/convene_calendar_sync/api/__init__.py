"""calendar-sync's HTTP API (routers), besides the kit's /healthz, /readyz, /metrics, /docs."""

from fastapi import APIRouter

from convene_calendar_sync.api.availability import router as availability_router
from convene_calendar_sync.api.connections import router as connections_router
from convene_calendar_sync.api.push import router as push_router

ROUTERS: list[APIRouter] = [connections_router, availability_router, push_router]
