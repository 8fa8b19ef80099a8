"""Request bodies of the issuer API (field names per the cross-team contract)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from healthcode.credential import StatusColour
from issuers.corrections import Decision
from issuers.events import EventKind


class OtpRequest(BaseModel):
    phone: str = Field(min_length=5, max_length=20, pattern=r"^\+?[0-9]{5,19}$")


class OtpVerify(BaseModel):
    phone: str = Field(min_length=5, max_length=20)
    code: str = Field(min_length=4, max_length=10)


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class PersonRef(BaseModel):
    """An ID number and full name (family binding, counter); only their keyed hashes are kept."""

    id_number: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)


class Registration(PersonRef):
    phone: str | None = Field(default=None, min_length=5, max_length=20, pattern=r"^\+?[0-9]+$")


class Declaration(BaseModel):
    kind: EventKind
    data: dict[str, Any]


class CorrectionRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    #: file for a bound family member instead of oneself
    dependent_ref: str | None = Field(default=None, max_length=32)


class CorrectionDecision(BaseModel):
    decision: Decision
    note: str = Field(min_length=1, max_length=1000)
    override_colour: StatusColour | None = None


class StatusLookup(BaseModel):
    id_number: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    assisted: bool = False
    checkpoint_id: str = Field(min_length=1, max_length=64)


class NewStaff(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: str
