"""The province's declaration vocabulary as a JSON Schema, and per-field problems for forms.

The schema is built from `issuers.events.EVENT_FIELDS` (the one list of fields the rules may
name), for the kinds a citizen declares. It is the request body of `POST /v1/me/declarations`
in OpenAPI and is served at `GET /v1/declarations/schema`, so the app builds its forms from
it. Every field carries an English `title` and a Chinese `x-title-zh`; a refused declaration
answers `invalid_request` with `problems`, one per field, in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from healthcode.errors import ErrorCode, RequestError
from issuers.events import (
    EVENT_FIELDS,
    MAX_LIST_ITEMS,
    MAX_YEAR,
    MIN_YEAR,
    EventKind,
    FieldSpec,
    FieldType,
    field_problem,
)

__all__ = ["DECLARABLE", "check_declaration", "declaration_problems", "declaration_schema"]

DECLARABLE = (EventKind.HEALTH_DECLARATION, EventKind.ITINERARY)

_KIND_TITLES = {
    EventKind.HEALTH_DECLARATION: ("Health declaration", "健康申报"),
    EventKind.ITINERARY: ("Travel declaration", "行程申报"),
}
_FIELD_TITLES = {
    "symptoms": ("Symptoms (none: an empty list)", "症状（无则不选）"),
    "temperature_c": ("Body temperature (°C)", "体温（°C）"),
    "area_code": ("Area visited (6-digit division code)", "到访地区（6位行政区划代码）"),
    "visited_on": ("Date of the visit", "到访日期"),
}
#: Symptoms offered as choices; the rules match "fever" / "发热" (issuers/data/rules-*.toml).
_SYMPTOMS = (
    ("fever", "Fever", "发热"),
    ("cough", "Cough", "咳嗽"),
    ("sore_throat", "Sore throat", "咽痛"),
    ("fatigue", "Fatigue", "乏力"),
    ("loss_of_smell", "Loss of smell or taste", "嗅觉或味觉减退"),
    ("diarrhoea", "Diarrhoea", "腹泻"),
)


def _field_schema(name: str, spec: FieldSpec) -> dict[str, Any]:
    en, zh = _FIELD_TITLES.get(name, (name, name))
    schema: dict[str, Any] = {"title": en, "x-title-zh": zh}
    if spec.type is FieldType.CHOICE:
        schema.update(type="string", enum=list(spec.choices))
    elif spec.type is FieldType.TEXT:
        schema.update(type="string", minLength=1, maxLength=64)
    elif spec.type in (FieldType.INTEGER, FieldType.NUMBER):
        schema["type"] = "integer" if spec.type is FieldType.INTEGER else "number"
        if spec.minimum is not None:
            schema["minimum"] = spec.minimum
        if spec.maximum is not None:
            schema["maximum"] = spec.maximum
    elif spec.type is FieldType.TEXT_LIST:
        schema.update(
            type="array",
            maxItems=MAX_LIST_ITEMS,
            items={"type": "string", "minLength": 1, "maxLength": 64},
            examples=[["fever", "cough"]],
        )
        if name == "symptoms":
            schema["x-suggestions"] = [{"value": v, "en": e, "zh": z} for v, e, z in _SYMPTOMS]
    elif spec.type is FieldType.AREA_CODE:
        schema.update(type="string", pattern="^[0-9]{6}$", examples=["510104"])
    elif spec.type is FieldType.DAY:
        schema.update(
            type="string",
            format="date",
            pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description=f"YYYY-MM-DD, a calendar day in China, years {MIN_YEAR}-{MAX_YEAR}",
        )
    return schema


def _kind_schema(kind: EventKind) -> dict[str, Any]:
    fields = EVENT_FIELDS[kind]
    en, zh = _KIND_TITLES[kind]
    return {
        "title": en,
        "x-title-zh": zh,
        "type": "object",
        "required": ["kind", "data"],
        "properties": {
            "kind": {"const": kind.value},
            "data": {
                "type": "object",
                "additionalProperties": False,
                "required": list(fields),
                "properties": {name: _field_schema(name, spec) for name, spec in fields.items()},
            },
        },
    }


def declaration_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a declaration body: one branch per kind."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Declaration",
        "x-title-zh": "申报",
        "oneOf": [_kind_schema(kind) for kind in DECLARABLE],
    }


def _problem_zh(name: str, spec: FieldSpec, missing: bool) -> str:
    label = _FIELD_TITLES.get(name, (name, name))[1]
    if missing:
        return f"请填写{label}"
    if spec.minimum is not None and spec.maximum is not None:
        return f"{label}应在 {spec.minimum:g} 至 {spec.maximum:g} 之间"
    return f"{label}格式不正确"


def declaration_problems(kind: EventKind, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One problem per wrong, missing or unknown field (empty: the data are valid)."""
    fields = EVENT_FIELDS[kind]
    problems: list[dict[str, Any]] = []
    unknown = len(set(data) - set(fields))
    if unknown:
        # Never echo the keys: free input may hold an ID number.
        en = f"{unknown} unknown field(s); the fields are {', '.join(fields)}"
        problems.append({"field": "data", "problem": en, "text": {"en": en, "zh": "含未知字段"}})
    for name, spec in fields.items():
        missing = name not in data
        problem = "is required" if missing else field_problem(spec, data[name])
        if problem is None:
            continue
        title = _FIELD_TITLES.get(name, (name, name))[0]
        problems.append(
            {
                "field": f"data.{name}",
                "problem": problem,
                "text": {"en": f"{title}: {problem}", "zh": _problem_zh(name, spec, missing)},
            }
        )
    return problems


class DeclarationRefused(RequestError):
    """invalid_request whose answer lists each field's problem (`details`)."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        first = problems[0]["text"]["en"]
        super().__init__(
            ErrorCode.INVALID_REQUEST,
            f"the declaration was refused: {first}",
            details={"problems": problems},
        )


def check_declaration(kind: EventKind, data: Mapping[str, Any]) -> None:
    """invalid_request with `problems` (field, problem, text zh/en) unless the data fit."""
    if kind not in DECLARABLE:
        raise RequestError(
            ErrorCode.INVALID_REQUEST,
            "citizens declare health_declaration or itinerary; other events come from feeds",
        )
    problems = declaration_problems(kind, data)
    if problems:
        raise DeclarationRefused(problems)
