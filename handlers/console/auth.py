"""Log-in, log-out and password change. Attempts are rate-limited per address and per username."""
from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from intake.foundation.models import utcnow
from intake.people.audit import audit
from intake.people.staff import AccountError, authenticate, change_password, end_session, start_session

from ..extensions import limiter
from ..runtime import db, services
from .blueprint import ConsoleUser, bp, record, staff_view


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[InputRequired("请填写用户名"), Length(max=80)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("密码", validators=[InputRequired("请填写密码"), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[InputRequired("请填写当前密码")],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("新密码", validators=[InputRequired("请填写新密码")], render_kw={"autocomplete": "new-password"})
    again = PasswordField("再输一次新密码", validators=[InputRequired("请再输一次新密码")],
                          render_kw={"autocomplete": "new-password"})


def _username_key() -> str:
    return "login:" + (request.form.get("username") or "").strip().lower()[:80]


# A console path in plain URL characters. Browsers drop tabs and line breaks inside a URL and read "\\" as "/", so
# "/console\t//evil" could leave the site; a line break would also end the Location header.
_CONSOLE_PATH = re.compile(r"/console(?:[/?][A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?")


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site (no open redirect after log-in)."""
    if target and _CONSOLE_PATH.fullmatch(target) and "//" not in target:
        return target
    return url_for("console.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: services().settings.ratelimit.login_per_address, methods=["POST"])
@limiter.limit(lambda: services().settings.ratelimit.login_per_username, methods=["POST"], key_func=_username_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("console.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        account = authenticate(db(), form.username.data, form.password.data)
        if account is None:
            audit(db(), user_id=None, username=form.username.data.strip().lower()[:80], action="login_failed",
                  address=request.remote_addr)
            db().commit()
            error = "用户名或密码不正确"
        else:
            login_id = start_session(db(), account)
            session.clear()  # a CSRF token (or anything else) from before the log-in does not carry over
            login_user(ConsoleUser(account, login_id))
            audit(db(), user_id=account.id, username=account.username, action="login", address=request.remote_addr)
            db().commit()
            return redirect(_safe_next(request.args.get("next")), 303)
    return render_template("console/login.html", form=form, error=error), 200 if error is None else 401


@bp.post("/logout")
@staff_view()
def logout():
    record("logout")
    end_session(db(), current_user.login_id, utcnow())
    db().commit()
    logout_user()
    session.clear()
    flash("已退出登录")
    return redirect(url_for("console.login"), 303)


@bp.route("/password", methods=["GET", "POST"])
@staff_view()
def password():
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        if form.new.data != form.again.data:
            error = "两次输入的新密码不一样"
        else:
            try:
                change_password(db(), current_user.account, form.current.data, form.new.data)
            except AccountError as exc:
                db().rollback()
                error = str(exc)
            else:
                record("password_changed")
                db().commit()
                login_user(ConsoleUser(current_user.account, current_user.login_id))  # this one goes on; others end
                flash("密码已修改")
                return redirect(url_for("console.index"), 303)
    return render_template("console/password.html", form=form, error=error)
