"""calendar-sync's HTTP API (routers). Only the kit's /healthz, /readyz, /metrics and /docs
exist until connections arrive."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
