"""booking-pages's HTTP API (routers), besides the kit's /healthz, /readyz, /metrics, /docs."""

from fastapi import APIRouter

from convene_booking_pages.api.pages import router as pages_router
from convene_booking_pages.api.public import robots_router
from convene_booking_pages.api.public import router as public_router

ROUTERS: list[APIRouter] = [pages_router, public_router, robots_router]
