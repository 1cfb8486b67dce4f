"""booking-pages's HTTP API (routers). Only the kit's /healthz, /readyz, /metrics and /docs
exist until scheduling pages arrive."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
