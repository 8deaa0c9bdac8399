"""The composition root: builds the Flask app from settings and wires the core to real adapters."""
from __future__ import annotations

import dataclasses
import logging

from flask import Flask, Request
from werkzeug.middleware.proxy_fix import ProxyFix

from intake.case.clocks import validate as validate_clocks
from intake.foundation import encryption
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.db import make_engine
from intake.foundation.settings import Settings, load_settings, with_secret_key
from intake.runtime.sessions import make_session_factory
from intake.supervision import tallies

from .extensions import PROVIDER_WEBHOOKS, csrf, limiter, login_manager
from .runtime import Services, close_session

log = logging.getLogger(__name__)
# One text field of a form (and the parser's read buffer); files are limited by [uploads] instead.
FORM_FIELD_MAX_BYTES = 1024 * 1024


class FormLimitedRequest(Request):
    """One limit for every form body: a url-encoded body is all text fields, read whole into memory, so it gets
    the one-field limit that multipart text fields get (MAX_FORM_MEMORY_SIZE only covers multipart)."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and self.mimetype == "application/x-www-form-urlencoded":
            return FORM_FIELD_MAX_BYTES
        return Request.max_content_length.fget(self)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def create_app(settings: Settings | None = None) -> Flask:
    app = Flask(__name__)
    app.request_class = FormLimitedRequest
    settings = with_secret_key(settings or load_settings(), app.instance_path)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.uploads.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=FORM_FIELD_MAX_BYTES,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=settings.ratelimit.storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
    )
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                x_host=settings.proxy_hops)
    if settings.rate_limits_per_process:
        log.warning("RATE LIMITS ARE PER PROCESS: web_processes is %d but [ratelimit] storage_uri is memory://, so "
                    "each process counts alone and lets the whole limit through (log-in guesses, submissions). Set "
                    "QINGLING_RATELIMIT_STORAGE_URI=redis://... (`qingling doctor` fails until then)",
                    settings.web_processes)
    validate_clocks(settings.clocks)
    _configure_data_keys(settings)
    calendar = WorkingCalendar.from_config(dataclasses.asdict(settings.calendar))
    tallies.configure(settings.calendar.timezone)  # the supervisors' days are the calendar's
    engine = make_engine(settings.database.url, echo=settings.database.echo)
    app.extensions["qingling"] = Services(settings, engine, make_session_factory(engine), calendar)

    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from . import console, errors, posters, public, security, simulator

    app.register_blueprint(public.bp)
    app.register_blueprint(posters.bp)
    app.register_blueprint(console.bp)
    if settings.demo:
        app.register_blueprint(simulator.bp)  # otherwise /demo/chat is not found
    from .channels import aliyun_sms, tencent_sms, twilio_sms, wechat

    for webhooks in (wechat.bp, twilio_sms.bp, aliyun_sms.bp, tencent_sms.bp):
        csrf.exempt(webhooks)  # providers sign their requests instead
        PROVIDER_WEBHOOKS.add(webhooks.name)  # and send from a few addresses of their own: no per-address limit
        app.register_blueprint(webhooks)
    from .api import open311, problems, v1

    for api in (v1.bp, v1.docs_bp, open311.bp):
        csrf.exempt(api)  # client systems send tokens, not cookies
        app.register_blueprint(api)
    errors.register(app, {v1.PREFIX: problems.http_problem, open311.PREFIX: open311.http_error})
    security.register(app)
    app.teardown_appcontext(close_session)
    return app


def _configure_data_keys(settings: Settings) -> None:
    """Phone and ID numbers are readable only under these keys (SMS senders' identities under the secret key's);
    a malformed one stops the process here."""
    privacy = settings.privacy
    if privacy.data_key:
        encryption.configure([privacy.data_key, *privacy.previous_data_keys], settings.secret_key)
        return
    log.warning("QINGLING_PRIVACY_DATA_KEY is not set: workers' phone and ID numbers are encrypted under a key "
                "derived from %s. Fine for a demo; never for real workers' data (`qingling doctor` refuses it)",
                "QINGLING_SECRET_KEY" if settings.secret_key else "a development constant anyone can read")
    encryption.configure([encryption.derived_data_key(settings.secret_key), *privacy.previous_data_keys],
                         settings.secret_key)
