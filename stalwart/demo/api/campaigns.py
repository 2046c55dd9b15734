"""``POST /demo/campaigns``, ``POST /demo/campaigns/{id}/launch``, ``GET /demo/campaigns/{id}``."""

from __future__ import annotations

from typing import Annotated, Any

import phonenumbers
from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, field_validator

from stalwart.demo import campaigns
from stalwart.demo.api.context import CrmContext, crm
from stalwart.demo.api.ids import RowId
from stalwart.demo.text import Text

__all__ = ["NewCampaign", "router"]

router = APIRouter()


class NewCampaign(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    sender: Annotated[Text, Field(min_length=3, max_length=20, description="E.164 number")]
    body: Annotated[Text, Field(min_length=1, max_length=480, description="'Hi {name}, ...'")]
    segment: Annotated[Text | None, Field(max_length=50)] = None

    @field_validator("sender")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            raise ValueError("sender must be a number in E.164 form such as +12125550142") from None
        if not phonenumbers.is_valid_number(number):
            raise ValueError("sender is not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("body")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            fields = campaigns.template_fields(value)
        except ValueError as exc:
            raise ValueError(f"body is not a valid template: {exc}") from None
        unknown = fields - campaigns.PLACEHOLDERS
        if unknown:
            raise ValueError(f"body may use {{name}} only, not {', '.join(sorted(unknown))}")
        return value

    @field_validator("segment")
    @classmethod
    def _segment(cls, value: str | None) -> str | None:
        return value.strip().lower() or None if value is not None else None


@router.post("/demo/campaigns", status_code=status.HTTP_201_CREATED, responses={422: {}})
def create_campaign(
    campaign: NewCampaign, context: Annotated[CrmContext, Depends(crm)]
) -> dict[str, Any]:
    """A campaign (draft): a template sent from one number to a segment (or everyone)."""
    return campaigns.create(
        context.engine, campaign.name, campaign.sender, campaign.body, campaign.segment
    )


@router.post(
    "/demo/campaigns/{campaign_id}/launch",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {}, 409: {"description": "Launched already"}},
)
def launch_campaign(
    campaign_id: RowId, context: Annotated[CrmContext, Depends(crm)]
) -> dict[str, Any]:
    """Write every message and enqueue every send in one transaction (the outbox)."""
    return campaigns.launch(context.engine, campaign_id)


@router.get("/demo/campaigns/{campaign_id}", responses={404: {}})
def campaign_counts(
    campaign_id: RowId, context: Annotated[CrmContext, Depends(crm)]
) -> dict[str, Any]:
    """A campaign and its messages counted by status."""
    return campaigns.counts(context.engine, campaign_id)
