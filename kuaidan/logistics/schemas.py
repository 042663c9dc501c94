"""Pydantic models at the logistics API's edge."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CarrierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    status: str
    qualifications: tuple[str, ...]
