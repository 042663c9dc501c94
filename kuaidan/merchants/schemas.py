"""Request and response models of the merchants' JSON API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from kuaidan.core.fields import RequestBody, Text
from kuaidan.merchants.domain import WebhookEndpointInfo


class WebhookCreate(RequestBody):
    url: Text = Field(min_length=8, max_length=500, examples=["https://shop.example.com/hooks"])
    topics: list[Text] = Field(min_length=1, max_length=10, examples=[["order.paid"]])


class WebhookRead(BaseModel):
    id: int
    url: str
    topics: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, info: WebhookEndpointInfo) -> WebhookRead:
        return cls(
            id=info.id,
            url=info.url,
            topics=list(info.topics),
            active=info.active,
            created_at=info.created_at,
        )


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Signing secret, shown only in this response.")


class WebhookDeliveryRead(BaseModel):
    id: int
    endpoint_id: int
    event_id: int
    topic: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
