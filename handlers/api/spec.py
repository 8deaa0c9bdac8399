"""One registry of the API's operations, used twice: to validate each request with the operation's pydantic
models before its view runs, and to generate the OpenAPI 3.1 document from the very same models.

Why pydantic v2 rather than marshmallow + apispec, flask-smorest or spectree: pydantic's JSON Schema is draft
2020-12, the dialect of OpenAPI 3.1, so the models' schemas go into the document unchanged (no conversion layer
to drift); its errors carry each field's exact location and a stable machine code, which the problem responses
pass on; and strict mode and extra="forbid" refuse wrong types and unknown fields as the document says. The
registry itself is small (Flask routing stays Flask's), so there is no framework between Flask and the schema.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel, RootModel, ValidationError
from pydantic.json_schema import models_json_schema

from .problems import KINDS, MEDIA_TYPE, ApiProblem, field_errors
from .schemas import FieldError, Problem

JSON = "application/json"
_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    max_length: int
    pattern: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI form, /api/v1/complaints/{ticket_no}
    operation_id: str
    summary: str
    tag: str
    ok: dict[int, type[BaseModel]]
    path_model: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    headers: tuple[Header, ...] = ()
    problems: tuple[str, ...] = ()
    location_header: bool = False


@dataclass
class Api:
    """Operations of one blueprint; `operation` registers a view with Flask and in the document."""

    bp: Blueprint
    title: str
    version: str
    description: str
    operations: list[Operation] = field(default_factory=list)

    def operation(self, method: str, rule: str, *, summary: str, tag: str, ok: dict[int, type[BaseModel]],
                  path: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
                  body: type[BaseModel] | None = None, headers: tuple[Header, ...] = (),
                  problems: tuple[str, ...] = (), location_header: bool = False) -> Callable:
        prefix = self.bp.url_prefix or ""

        def decorate(view: Callable) -> Callable:
            problems_all = ("unauthorized", "rate-limited", *(("not-found",) if path else ()),
                            *(("validation",) if query or body or headers else ()),
                            *(("malformed-json", "too-large", "unsupported-media-type") if body else ()), *problems)
            self.operations.append(Operation(method, prefix + _RULE_VARIABLE.sub(r"{\1}", rule), view.__name__,
                                             summary, tag, ok, path, query, body, headers,
                                             tuple(dict.fromkeys(problems_all)), location_header))

            @functools.wraps(view)
            def endpoint(**path_args: Any) -> Response:
                kwargs: dict[str, Any] = {}
                if path is not None:
                    try:
                        kwargs["path"] = path.model_validate(path_args)
                    except ValidationError:
                        raise ApiProblem("not-found") from None
                if query is not None:
                    kwargs["query"] = _validated(query, request.args.to_dict(), "query")
                if body is not None:
                    kwargs["body"] = _body(body)
                for header in headers:
                    kwargs[header.name.lower().replace("-", "_")] = _header(header)
                return view(**kwargs)

            self.bp.add_url_rule(rule, view.__name__, endpoint, methods=[method])
            return view

        return decorate

    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document: every operation, its parameters and bodies, all from the models."""
        pairs = {(Problem, "serialization")}
        for op in self.operations:
            pairs.update((m, "validation") for m in (op.path_model, op.query, op.body) if m is not None)
            pairs.update((m, "serialization") for m in op.ok.values())
        refs, defs = models_json_schema(sorted(pairs, key=lambda p: (p[0].__name__, p[1])),
                                        ref_template="#/components/schemas/{model}")
        schemas = defs.get("$defs", {})
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, schemas)
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                          "description": "qingling clients create 给出的令牌"}}},
            "security": [{"bearer": []}],
        }


def _operation(op: Operation, refs: dict, schemas: dict) -> dict[str, Any]:
    parameters = []
    for model, where in ((op.path_model, "path"), (op.query, "query")):
        if model is None:
            continue
        schema = schemas[model.__name__]
        for name, prop in schema["properties"].items():
            parameters.append({"name": name, "in": where, "required": where == "path" or name in schema.get(
                "required", ()), "schema": _not_null(prop), **({"description": prop["description"]}
                                                               if "description" in prop else {})})
    for header in op.headers:
        parameters.append({"name": header.name, "in": "header", "required": False, "description": header.description,
                           "schema": {"type": "string", "minLength": 1, "maxLength": header.max_length,
                                      "pattern": header.pattern}})
    responses: dict[str, Any] = {}
    for status, model in op.ok.items():
        response = {"description": model.__doc__.strip().splitlines()[0] if model.__doc__ else model.__name__,
                    "content": {JSON: {"schema": refs[(model, "serialization")]}}}
        if op.location_header and status == 201:
            response["headers"] = {"Location": {"description": "The new complaint", "schema": {"type": "string"}}}
        responses[str(status)] = response
    for kind in op.problems:
        status, title, _ = KINDS[kind]
        entry = responses.setdefault(str(status), {"description": title, "content": {
            MEDIA_TYPE: {"schema": refs[(Problem, "serialization")]}}})
        if title not in entry["description"]:
            entry["description"] += f"; {title}"
    found: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
                             "responses": responses}
    if parameters:
        found["parameters"] = parameters
    if op.body is not None:
        found["requestBody"] = {"required": True, "content": {JSON: {"schema": refs[(op.body, "validation")]}}}
    return found


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the `null` of an optional field: a query string cannot carry a null."""
    options = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
    if "anyOf" not in schema or len(options) != 1:
        return schema
    return {**{k: v for k, v in schema.items() if k not in ("anyOf", "default")}, **options[0]}


def _validated(model: type[BaseModel], data: Any, location: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiProblem("validation", errors=field_errors(exc, location)) from None


def _body(model: type[BaseModel]) -> BaseModel:
    if request.mimetype != JSON:
        raise ApiProblem("unsupported-media-type")
    raw = request.get_data(cache=True)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = field_errors(exc, "body", tagged=issubclass(model, RootModel))
        if any(e.code == "json_invalid" for e in errors):
            raise ApiProblem("malformed-json", detail=errors[0].detail) from None
        raise ApiProblem("validation", errors=errors) from None


def _header(header: Header) -> str | None:
    value = request.headers.get(header.name)
    if value is None:
        return None
    if not (0 < len(value) <= header.max_length and re.fullmatch(header.pattern, value)):
        raise ApiProblem("validation", errors=[FieldError(location="header", field=header.name, pointer="",
                                                          code="header_invalid", detail=header.description)])
    return value
