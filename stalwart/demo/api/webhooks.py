"""``POST /demo/webhooks/sms``: the provider's events, verified, stored once, 202 at once.

The order of checks is the order of trust: the size (413, before reading), the
signature over the raw bytes (401: nothing unsigned is even parsed), then the event's
shape (422). The work is done by ``process_webhook``; this handler only stores the
event and its task in one transaction, so it answers in milliseconds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from stalwart.demo.api.context import CrmContext, crm
from stalwart.demo.signing import SignatureError, verify
from stalwart.demo.webhooks.schema import DeliveryEvent, ProviderEvent, ReplyEvent
from stalwart.demo.webhooks.store import receive

__all__ = ["WEBHOOK_LIMIT", "event_schemas", "router"]

WEBHOOK_LIMIT = 64 * 1024
router = APIRouter()
_EVENT: TypeAdapter[DeliveryEvent | ReplyEvent] = TypeAdapter(ProviderEvent)


@router.post(
    "/demo/webhooks/sms",
    status_code=status.HTTP_202_ACCEPTED,
    responses={401: {"description": "Not signed by the provider"}, 413: {}, 422: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Event"}}},
        }
    },
)
async def sms_webhook(
    request: Request,
    context: Annotated[CrmContext, Depends(crm)],
    x_signature_timestamp: Annotated[str | None, Header()] = None,
    x_signature: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Receive a provider event (HMAC-SHA256 signed, at most 5 minutes old)."""
    body = await request.body()
    try:
        verify(context.config.webhook_secret, x_signature_timestamp, x_signature, body)
    except SignatureError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"webhook refused: {exc}") from None
    try:
        event = _EVENT.validate_json(body)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, _problems(exc)) from None
    received = await run_in_threadpool(receive, context.engine, event)
    content: dict[str, Any] = {"event": event.id, "duplicate": received.duplicate}
    return JSONResponse(content, status_code=status.HTTP_202_ACCEPTED)


def event_schemas() -> dict[str, Any]:
    """The event's JSON schemas for the OpenAPI document (the body is parsed by hand,
    after the signature check, so FastAPI does not list them itself)."""
    schema = _EVENT.json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "Event": schema}


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", "invalid")}
        for error in exc.errors(include_url=False, include_input=False)
    ][:20]
