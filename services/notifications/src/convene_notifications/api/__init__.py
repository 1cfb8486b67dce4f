"""notifications' HTTP API (routers), besides the kit's /healthz, /readyz, /metrics, /docs."""

from fastapi import APIRouter

from convene_notifications.api.emails import router as emails_router

ROUTERS: list[APIRouter] = [emails_router]
