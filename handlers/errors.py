"""Error pages in plain Chinese; nothing a worker sees mentions HTTP or stack traces. Staff in the console get
the console's own page, worded for their work.

The database down, unreachable, read-only or locked is not a bug but an outage: the answer is 503 (try again
later) with the hotline, never a 500, and nothing was stored. The worker's form (handlers.public) and the
providers' webhooks (handlers.channels) answer it in their own way; every other page gets the 503 page.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
READ_ONLY_SQLSTATE = "25006"  # PostgreSQL: read_only_sql_transaction (a standby, or default_transaction_read_only)
RETRY_AFTER_SECONDS = 60

MESSAGES = {
    400: ("请求有误", "页面内容不完整，请返回重新填写。"),
    403: ("无法访问", "您没有权限查看这个页面。"),
    404: ("找不到这个页面", "二维码或链接可能已失效。请扫描工地告示牌上的二维码，或拨打 12345 反映。"),
    405: ("请求有误", "请返回上一页重新操作。"),
    413: ("上传的内容太大", "照片太大或太多，请少选几张或换小一点的照片再提交。"),
    429: ("操作太频繁", "您提交得太频繁了，请稍后再试。急事请拨打 12345。"),
    500: ("系统出错了", "系统暂时出了问题，请稍后再试，或拨打 12345 反映。"),
    503: ("系统正在维护", "对不起，系统暂时无法保存，您的反映还没有提交。请过几分钟再试，急事请拨打 12345。"),
}
CONSOLE_MESSAGES = {
    400: ("请求有误", "页面已过期或内容不完整，请刷新后重试。"),
    403: ("没有权限", "您的账号没有这项权限。如需办理，请联系部门负责人或督导。"),
    404: ("找不到", "案件或页面不存在，或不在您的管辖范围内。"),
    405: ("请求有误", "请返回上一页重新操作。"),
    413: ("文件太大", "上传的文件太大。"),
    429: ("尝试过于频繁", "尝试过于频繁，请一分钟后再试。"),
    500: ("系统出错了", "系统暂时出了问题，请稍后再试；问题持续请联系系统管理员。"),
    503: ("数据库暂不可用", "数据库暂时无法连接或只读，本次操作没有保存。请稍后重试；问题持续请联系系统管理员。"),
}
CSRF_EXPIRED = ("页面已过期", "页面停留太久已过期，请返回刷新后重新提交。")


def register(app: Flask, interfaces: Mapping[str, Callable[[HTTPException], object]] | None = None) -> None:
    """The Chinese pages; under each interface's path prefix its own error format instead, so a client of
    /api/v1 or /open311 gets a problem or an Open311 error also for a URL or method no route matches."""
    interfaces = dict(interfaces or {})
    for code in MESSAGES:
        app.register_error_handler(code, _for_interface(interfaces, _page(code)))
    app.register_error_handler(CSRFError, csrf_expired_page)
    app.register_error_handler(DBAPIError, when_unavailable(lambda: _page(503)(None)[0]))


def unavailable(exc: DBAPIError) -> bool:
    """The database cannot take this now (down, unreachable, read-only, locked); a retry later will work."""
    return isinstance(exc, OperationalError) or getattr(exc.orig, "sqlstate", None) == READ_ONLY_SQLSTATE


def when_unavailable(answer: Callable[[], object]):
    """A DBAPIError handler: the body `answer()` gives, as a 503 with Retry-After, when the database is
    unavailable; any other database error is a bug and stays one (the 500 page)."""

    def handler(exc: DBAPIError):
        if not unavailable(exc):
            raise exc
        log.warning("database unavailable for %s %s: %s", request.method, request.path, exc.orig)
        return answer(), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}

    return handler


def _render(title: str, text: str, code: int):
    template = "console/error.html" if request.blueprint == "console" else "error.html"
    return render_template(template, title=title, text=text), code


def _page(code: int):
    def handler(error):
        if code == 500 and "db" in g:
            g.db.rollback()  # the page itself reads (the staff member's name): never through the failed transaction
        messages = CONSOLE_MESSAGES if request.blueprint == "console" else MESSAGES
        allow = [(k, v) for k, v in error.get_headers() if k == "Allow"] if isinstance(error, HTTPException) else []
        return (*_render(*messages[code], code), allow)  # a 405 says what is allowed

    return handler


def _for_interface(interfaces: Mapping[str, Callable[[HTTPException], object]], page: Callable):
    def handler(error):
        for prefix, answer in interfaces.items():
            if request.path == prefix or request.path.startswith(prefix + "/"):
                return answer(error)
        return page(error)

    return handler


def csrf_expired_page(_error):
    return _render(*CSRF_EXPIRED, 400)
