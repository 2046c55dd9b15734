"""The provider's webhook events, as pydantic models (the API's 422 comes from these).

``message.delivered`` / ``message.failed`` report what became of a message we sent
(``reference`` is ours: ``sms:<campaign>:<contact>``); ``message.received`` is a reply
from a phone (``STOP`` opts its contact out).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, FiniteFloat

from stalwart.demo.text import Text

__all__ = ["DeliveryEvent", "ProviderEvent", "ReplyEvent"]

Id = Annotated[Text, Field(min_length=1, max_length=100)]
Phone = Annotated[Text, Field(min_length=3, max_length=20)]


class _Delivery(BaseModel):
    message_id: Id
    reference: Annotated[Text, Field(max_length=100)]
    to: Phone
    error: Annotated[Text | None, Field(max_length=200)] = None


class _Reply(BaseModel):
    message_id: Id
    from_: Phone = Field(alias="from")
    to: Phone
    body: Annotated[Text, Field(max_length=1600)]


class DeliveryEvent(BaseModel):
    id: Id
    type: Literal["message.delivered", "message.failed"]
    created_at: FiniteFloat
    data: _Delivery


class ReplyEvent(BaseModel):
    id: Id
    type: Literal["message.received"]
    created_at: FiniteFloat
    data: _Reply


ProviderEvent = Annotated[DeliveryEvent | ReplyEvent, Field(discriminator="type")]
