"""/push/google: Google Calendar push notifications (events.watch). No user token: Google
calls it. A notification is accepted only with its channel's token and resource id, and
only makes that calendar's sync due now (the change is read from the provider)."""

from __future__ import annotations

from typing import Annotated

from convene_kit.errors import error_response
from convene_kit.openapi import error_responses
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from convene_calendar_sync import channels
from convene_calendar_sync.deps import Deps

router = APIRouter(prefix="/push", tags=["push"])


def _deps(request: Request) -> Deps:
    return request.app.state.deps


@router.post("/google", status_code=204, summary="A Google Calendar push notification",
             responses=error_responses({403: "unknown channel, wrong token or resource"}))
async def google_notification(
    deps: Annotated[Deps, Depends(_deps)],
    channel_id: Annotated[str, Header(alias="X-Goog-Channel-ID", max_length=200)],
    resource_state: Annotated[str, Header(alias="X-Goog-Resource-State", max_length=50)],
    token: Annotated[str, Header(alias="X-Goog-Channel-Token", max_length=300)] = "",
    resource_id: Annotated[str, Header(alias="X-Goog-Resource-ID", max_length=300)] = "",
) -> Response:
    genuine = await channels.notified(deps, channel_id=channel_id, token=token,
                                      resource_id=resource_id, state=resource_state)
    if not genuine:
        # The error shape the document promises (was an empty 403 without a content type).
        return error_response(403, "push_refused",
                              "Unknown channel, or a wrong token or resource.")
    return Response(status_code=204)
