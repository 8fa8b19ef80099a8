"""Request bodies of the issuer API (field names per the cross-team contract).

Every text field refuses control characters and lone surrogates (`Text`, `Line`): PostgreSQL
cannot store a NUL, no encoder accepts a lone surrogate, and neither ever belongs in a name, a
reason or a username. A multi-line field (`Text`) may hold newlines and tabs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from healthcode.credential import StatusColour
from issuers.corrections import MAX_OVERRIDE_DAYS, Decision
from issuers.declarations import declaration_schema
from issuers.events import EventKind, has_control_characters

_LINE_BREAKS = re.compile(r"[\n\r\t]")


def _single_line(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


def _multi_line(value: str) -> str:
    if has_control_characters(_LINE_BREAKS.sub(" ", value)):
        raise ValueError("must not contain control characters other than line breaks")
    return value


class _Refusing:
    """Says in the OpenAPI which characters a text field refuses (as a `pattern`), so a
    client, and schemathesis, knows the refusal is the schema's, not a surprise."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        answer = handler(schema)
        answer["pattern"] = self.pattern
        return answer


#: One line of printable text.
Line = Annotated[str, AfterValidator(_single_line), _Refusing(r"^[^\u0000-\u001f\u007f-\u009f]*$")]
#: Printable text that may span lines (reasons, notes).
Text = Annotated[
    str,
    AfterValidator(_multi_line),
    _Refusing(r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"),
]

_PHONE = r"^\+?[0-9]{5,19}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OtpRequest(_Body):
    phone: str = Field(min_length=5, max_length=20, pattern=_PHONE)


class OtpVerify(_Body):
    phone: str = Field(min_length=5, max_length=20, pattern=_PHONE)
    code: str = Field(min_length=4, max_length=10, pattern=r"^[0-9]+$")


class Login(_Body):
    username: Line = Field(min_length=1, max_length=64)
    password: Line = Field(min_length=1, max_length=200)


class PersonRef(_Body):
    """An ID number and full name (family binding, counter); only their keyed hashes are kept."""

    id_number: Line = Field(min_length=1, max_length=32)
    name: Line = Field(min_length=1, max_length=64)


class CounterBinding(_Body):
    """Staff bind `dependant` to `guardian` at a counter, both ID cards checked."""

    guardian: PersonRef
    dependant: PersonRef
    #: what was checked (e.g. "both ID cards, household register"); kept in the audit log
    note: Line = Field(min_length=1, max_length=200)


class Registration(PersonRef):
    phone: str | None = Field(default=None, min_length=5, max_length=20, pattern=_PHONE)


def _declaration_schema(schema: dict[str, Any]) -> None:
    # OpenAPI shows the province's vocabulary (issuers.declarations), not `data: object`.
    schema.clear()
    schema.update({k: v for k, v in declaration_schema().items() if k != "$schema"})


class Declaration(_Body):
    """A health or travel declaration; its JSON Schema is `GET /v1/declarations/schema`."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_declaration_schema)

    kind: EventKind
    #: checked field by field against `issuers.events.EVENT_FIELDS` (which caps list lengths)
    data: dict[str, Any] = Field(max_length=8)


class CorrectionRequest(_Body):
    reason: Text = Field(min_length=1, max_length=1000)
    #: file for a bound family member instead of oneself
    dependent_ref: Line | None = Field(default=None, max_length=32)


class CorrectionDecision(_Body):
    decision: Decision
    note: Text = Field(min_length=1, max_length=1000)
    override_colour: StatusColour | None = None
    #: how long an override lasts (default 14 days); it may end earlier (docs/rules.md §6)
    override_days: int | None = Field(default=None, ge=1, le=MAX_OVERRIDE_DAYS)


class StatusLookup(_Body):
    id_number: Line = Field(min_length=1, max_length=32)
    name: Line | None = Field(default=None, max_length=64)
    assisted: bool = False
    checkpoint_id: Line = Field(min_length=1, max_length=64)


#: The roles an admin may give a new account (citizens log in by phone, never by account).
StaffRole = Literal["health_official", "admin", "counter_staff", "checkpoint"]


class NewStaff(_Body):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: Line = Field(min_length=8, max_length=200)
    role: StaffRole
