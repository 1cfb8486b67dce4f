"""The booking form as a browser posts it (``application/x-www-form-urlencoded``), checked by
the same model as the JSON API's booking (:class:`BookingCreate`), and what goes wrong with
it, per field, for the form shown again.

The body is read here rather than by FastAPI's ``Form`` (which needs python-multipart, and
would make the kit's JSON-only body rule refuse it): it is small, one encoding, with a cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from convene_kit.errors import ApiError
from convene_kit.refusals import Refusal
from fastapi import Request
from pydantic import ValidationError

from convene_booking_pages.api.models import BookingCreate
from convene_booking_pages.domain.booking import VisitorRequest
from convene_booking_pages.domain.page import Page
from convene_booking_pages.web.visit import Visit, utc_text

MAX_BODY_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
ANSWER = "answers."
"""Form field names of the page's questions: ``answers.<key>`` (a key may be ``start``)."""
CHECKED = "yes"


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields (the last of a repeated name); 415 for another encoding, 413 for
    more than :data:`MAX_BODY_BYTES`, 422 for bytes that are not UTF-8."""
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        raise ApiError(415, "unsupported_media_type", "Send the form as "
                       f"{FORM_TYPE}.", {"content_type": media_type})
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "The form is too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "validation_error", "The form is not UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=100))


@dataclass
class FormState:
    """The form as shown: its values (by field name) and the message key of each field's
    problem, or of one about the whole form."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def prefilled(page: Page, visit: Visit, token_fields: Mapping[str, object] | None) -> FormState:
    """The form's first values: a valid prefill token's name, email and answers; otherwise
    the ``name`` and ``email`` of the query, and nothing else from it."""
    values: dict[str, str] = {}
    token = token_fields or {}
    name, email = token.get("name") or visit.name, token.get("email") or visit.email
    if isinstance(name, str):
        values["name"] = name
    if isinstance(email, str):
        values["email"] = email
    answers = token.get("answers")
    if isinstance(answers, Mapping):
        known = {f.key for f in page.form_fields}
        values.update({ANSWER + k: str(v) for k, v in answers.items() if k in known})
    return FormState(values=values)


def _answers(page: Page, posted: Mapping[str, str]) -> dict[str, str]:
    answers = {}
    for question in page.form_fields:
        value = posted.get(ANSWER + question.key, "").replace("\r\n", "\n").strip()
        if question.kind == "checkbox":
            value = CHECKED if value else ""
        if value:
            answers[question.key] = value
    return answers


def _field_of(location: tuple[int | str, ...]) -> str | None:
    if location[:1] in (("name",), ("email",)):
        return str(location[0])
    if location[:1] == ("answers",) and len(location) > 1:
        return ANSWER + str(location[1])
    return None


def visitor_request(page: Page, visit: Visit, posted: Mapping[str, str]
                    ) -> tuple[VisitorRequest | None, FormState]:
    """The visitor's request from the posted form, or None and what is wrong, per field.
    The form keeps what was entered either way (for showing it again)."""
    answers = _answers(page, posted)
    values = {"name": posted.get("name", "").strip(), "email": posted.get("email", "").strip(),
              **{ANSWER + k: v for k, v in answers.items()}}
    state = FormState(values=values)
    try:
        checked = BookingCreate.model_validate({
            "start": utc_text(visit.start) if visit.start else None,
            "duration_minutes": visit.duration, "name": values["name"],
            "email": values["email"], "time_zone": visit.zone_name, "answers": answers})
    except ValidationError as invalid:
        for error in invalid.errors():
            where = _field_of(tuple(error["loc"]))
            if where is None:
                state.problem = "error.form"
            else:
                state.errors.setdefault(where, _message_of(where, error["type"]))
        return None, state
    return VisitorRequest(start=checked.start, duration_minutes=checked.duration_minutes,
                          name=checked.name, email=checked.email,
                          time_zone=checked.time_zone, answers=checked.answers), state


def _message_of(where: str, kind: str) -> str:
    if kind == "disallowed_character" or kind.endswith("too_long"):
        return "error.text"
    return {"name": "error.name", "email": "error.email"}.get(where, "error.text")


def refused_answer(page: Page, refusal: Refusal, state: FormState) -> FormState:
    """The form with a 422 of the domain's form rules (``answer_required``,
    ``answer_invalid``) next to its question; others about the whole form."""
    details = refusal.details if isinstance(refusal.details, Mapping) else {}
    key = str(details.get("field", ""))
    question = next((f for f in page.form_fields if f.key == key), None)
    if question is None:
        state.problem = "error.form"
    elif refusal.code == "answer_required":
        state.errors[ANSWER + key] = "error.answer_required"
    elif question.kind == "select":
        state.errors[ANSWER + key] = "error.answer_choice"
    else:
        state.errors[ANSWER + key] = "error.answer_one_line"
    return state
