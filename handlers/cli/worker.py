"""`qingling worker [--once]`, and the background worker thread for the single-command demo.

This is where the worker is composed: timer handler modules from settings, senders per destination scheme
from `senders_for`, media fetchers per source scheme from `build_fetchers`, the working calendar from settings.
The core loop in intake.runtime.worker knows none of them.
"""
from __future__ import annotations

import logging
import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, run_command, with_appcontext
from flask.helpers import get_debug_flag
from werkzeug.serving import is_running_from_reloader

from intake.case.clocks import recompute_if_changed
from intake.delivery import outbox
from intake.foundation.db import background
from intake.foundation.settings import Settings
from intake.runtime.sessions import make_session_factory
from intake.runtime.worker import run_forever, run_once

from ..channels.contacts import build_contact_senders
from ..channels.wiring import build_fetchers, build_senders
from ..console.ledger import ledger_exporter
from ..runtime import Services, services

log = logging.getLogger(__name__)


class LogSender:
    """Demo only: 'delivers' by writing the message to the log, so the demo shows what would go out."""

    def send(self, destination: str, payload: dict) -> outbox.SendResult:
        log.warning("[demo] %s <- %s", destination, payload.get("text", payload))
        return outbox.SendResult(ok=True, provider_id="demo")


def senders_for(settings: Settings) -> dict[str, outbox.Sender]:
    """Senders by destination scheme for every configured channel, the console inbox always, and in demo mode
    a logging sender for the rest. A scheme without a sender is left in the outbox for a worker that has one."""
    senders: dict[str, outbox.Sender] = {"department": outbox.InboxSender(), **build_senders(settings),
                                         **build_contact_senders(settings)}
    if settings.demo:
        demo = LogSender()
        for scheme in (*outbox.CONTACT_SCHEMES, "wechat-template"):
            senders.setdefault(scheme, demo)
    return senders


def worker_sessions(svc: Services):
    """The worker's sessions: on SQLite a request waiting for the writers' lock goes before the worker's next
    transaction (intake.foundation.db.background)."""
    return make_session_factory(background(svc.engine))


def prepare(svc: Services) -> None:
    """Bring open clocks in line with the calendar and limits in force."""
    with svc.sessions.begin() as session:
        recompute_if_changed(session, svc.calendar, svc.settings)


@click.command("worker", help="Fire timers, deliver the outbox, fetch chat photos (loops until SIGTERM / Ctrl-C).")
@click.option("--once", is_flag=True, help="Do one pass and exit (for cron).")
@with_appcontext
def worker_command(once: bool) -> None:
    svc = services()
    prepare(svc)
    senders, fetchers, exporter = senders_for(svc.settings), build_fetchers(svc.settings), ledger_exporter(current_app)
    if once:
        report = run_once(worker_sessions(svc), senders, svc.calendar, svc.settings, fetchers=fetchers,
                          exporter=exporter)
        click.echo(f"本轮完成：触发 {report.fired} 个计时器，过期 {report.stale} 个，"
                   f"发送 {report.sent} 条消息，失败 {report.failed} 条，取回 {report.fetched} 张照片，"
                   f"生成 {report.exported} 份台账。")
        return
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("signal %s: stopping after this pass", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo("工作进程已启动（Ctrl-C 或 SIGTERM 停止）。")
    run_forever(worker_sessions(svc), senders, svc.calendar, svc.settings, stop, fetchers, exporter)
    click.echo("工作进程已停止。")


def start_background_worker(app: Flask) -> tuple[threading.Thread, threading.Event]:
    """Run the worker in a daemon thread of this process (the SQLite demo: one command, one worker).

    Returns the thread and the event that stops it after its current pass.
    """
    svc = services(app)
    prepare(svc)
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, name="qingling-worker", daemon=True,
                              args=(worker_sessions(svc), senders_for(svc.settings), svc.calendar, svc.settings, stop,
                                    build_fetchers(svc.settings), ledger_exporter(app)))
    thread.start()
    return thread, stop


@click.command("run", params=run_command.params, help="Development server; in demo mode the worker runs beside it.")
@click.pass_context
def run_with_worker(ctx: click.Context, **options) -> None:
    """Flask's own `run`; with demo on, one command gives live clocks: the worker runs in a thread of the
    serving process (not in the reloader's watcher process)."""
    app = ctx.ensure_object(ScriptInfo).load_app()
    reloading = options["reload"] if options["reload"] is not None else get_debug_flag()
    if services(app).settings.demo and (not reloading or is_running_from_reloader()):
        start_background_worker(app)
        click.echo("演示模式：后台工作进程已启动，计时器和消息会自动处理。")
    ctx.invoke(run_command, **options)
