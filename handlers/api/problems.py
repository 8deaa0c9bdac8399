"""Errors as RFC 9457 problem details (application/problem+json): a `type` naming the problem precisely (its
anchor on the reference page), a Chinese `detail`, and for bad input every offending field in `errors`."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from ..errors import MESSAGES
from .schemas import FieldError, Problem

MEDIA_TYPE = "application/problem+json"
DOCS = "/api/v1/docs"
# type slug, title and default detail of each problem the API answers with
KINDS = {
    "malformed-json": (400, "Malformed JSON", "请求体不是有效的 JSON"),
    "unauthorized": (401, "Unauthorized", "缺少或无效的接入令牌（Authorization: Bearer <token>）"),
    "forbidden": (403, "Forbidden", "接入系统的角色不能执行此操作"),
    "not-found": (404, "Not Found", "没有找到，或不在接入系统的权限范围内"),
    "method-not-allowed": (405, "Method Not Allowed", "不支持此请求方法"),
    "conflict": (409, "Conflict", "案件刚刚被他人修改，请重新读取后再试"),
    "case-rule": (409, "Not allowed now", "案件当前状态不允许此操作"),
    "clue-seen": (409, "Clue already filed", "此来源编号已由其他接入系统报送，案件不在本系统权限范围内"),
    "too-large": (413, "Payload Too Large", "请求体太大"),
    "unsupported-media-type": (415, "Unsupported Media Type", "请求体须为 application/json"),
    "validation": (422, "Unprocessable Content", "请求内容有误，见 errors"),
    "idempotency-mismatch": (422, "Idempotency-Key reused", "此 Idempotency-Key 已用于另一个不同的请求"),
    "rate-limited": (429, "Too Many Requests", "请求太频繁，请稍后再试"),
    "server-error": (500, "Internal Server Error", "系统出错，请稍后重试"),
}
BY_STATUS = {status: slug for slug, (status, _, _) in reversed(KINDS.items())}


class ApiProblem(Exception):
    def __init__(self, kind: str, detail: str | None = None, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(kind)
        self.kind, self.detail, self.errors, self.headers = kind, detail, errors or [], headers or {}


def problem_response(kind: str, detail: str | None = None, errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    status, title, default = KINDS[kind]
    body = Problem(type=f"{DOCS}#problem-{kind}", title=title, status=status, detail=detail or default,
                   instance=request.path, errors=errors or [])
    return Response(body.model_dump_json(), status, headers=headers, mimetype=MEDIA_TYPE)


def field_errors(exc: ValidationError, location: str, tagged: bool = False) -> list[FieldError]:
    """Pydantic's errors as fields; `tagged`: the model is a union chosen by its "action" field, whose value
    pydantic puts first in each location."""
    found = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        if tagged:
            loc = loc[1:] if loc else ["action"]
        found.append(FieldError(location=location, field=".".join(loc), code=error["type"], detail=error["msg"],
                                pointer="/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in loc)
                                if location == "body" else ""))
    return found


def handle_errors(bp: Blueprint, http: Callable[[HTTPException], Response],
                  problem: Callable[[ApiProblem], Response]) -> None:
    """The blueprint's own answers to HTTP errors and ApiProblem; by status code too, since the app's Chinese
    pages are registered by code and would win otherwise."""
    for code in MESSAGES:
        bp.register_error_handler(code, http)
    bp.register_error_handler(HTTPException, http)
    bp.register_error_handler(ApiProblem, problem)


def http_problem(error: HTTPException) -> Response:
    """An HTTP error (also one of routing: no such URL, or a method the URL does not take) as a problem; a 405
    keeps its Allow header."""
    allow = {k: v for k, v in error.get_headers() if k == "Allow"}
    return problem_response(BY_STATUS.get(error.code or 500, "server-error"), headers=allow)


def register(bp: Blueprint) -> None:
    """Every error inside the blueprint as a problem."""
    handle_errors(bp, http_problem, lambda p: problem_response(p.kind, p.detail, p.errors, p.headers))
