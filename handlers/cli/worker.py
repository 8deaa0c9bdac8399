"""`qingling worker [--once]`, and the background worker thread for the single-command demo.

This is where the worker is composed: timer handler modules from settings, senders per destination scheme
from `senders_for`, the working calendar from settings. The core loop in intake.worker knows none of them.
"""
from __future__ import annotations

import dataclasses
import logging
import signal
import threading

import click
from flask import Flask
from flask.cli import with_appcontext

from intake import clocks, outbox, timers
from intake.calendar import WorkingCalendar
from intake.settings import Settings
from intake.worker import run_forever, run_once

from .. import services

log = logging.getLogger(__name__)


class LogSender:
    """Demo only: 'delivers' by writing the message to the log, so the demo shows what would go out."""

    def send(self, destination: str, payload: dict) -> outbox.SendResult:
        log.warning("[demo] %s <- %s", destination, payload.get("text", payload))
        return outbox.SendResult(ok=True, provider_id="demo")


def senders_for(app: Flask) -> dict[str, outbox.Sender]:
    """Senders by destination scheme: app.extensions["qingling_senders"] (filled by the channel adapters),
    or in demo mode a logging sender for every scheme. A scheme without a sender is left in the outbox."""
    senders = dict(app.extensions.get("qingling_senders", {}))
    if services(app).settings.demo:
        demo = LogSender()
        for scheme in (*outbox.CONTACT_SCHEMES, "wechat-template", "department"):
            senders.setdefault(scheme, demo)
    return senders


def prepare(settings: Settings) -> WorkingCalendar:
    """Load the timer handlers and check the clock limits, so a bad setting fails at start, not at a timer."""
    timers.load_handlers(settings.worker.handler_modules)
    clocks.validate(settings.clocks)
    return WorkingCalendar.from_config(dataclasses.asdict(settings.calendar))


@click.command("worker", help="Fire due timers and deliver the outbox (loops until SIGTERM / Ctrl-C).")
@click.option("--once", is_flag=True, help="Do one pass and exit (for cron).")
@with_appcontext
def worker_command(once: bool) -> None:
    from flask import current_app

    app = current_app._get_current_object()
    svc = services(app)
    calendar = prepare(svc.settings)
    senders = senders_for(app)
    if once:
        report = run_once(svc.sessions, senders, calendar, svc.settings)
        click.echo(f"本轮完成：触发 {report.fired} 个计时器，过期 {report.stale} 个，"
                   f"发送 {report.sent} 条消息，失败 {report.failed} 条。")
        return
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("signal %s: stopping after this pass", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo("工作进程已启动（Ctrl-C 或 SIGTERM 停止）。")
    run_forever(svc.sessions, senders, calendar, svc.settings, stop)
    click.echo("工作进程已停止。")


def start_background_worker(app: Flask) -> tuple[threading.Thread, threading.Event]:
    """Run the worker in a daemon thread of this process (the SQLite demo: one command, one worker).

    Returns the thread and the event that stops it after its current pass.
    """
    svc = services(app)
    calendar = prepare(svc.settings)
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, name="qingling-worker", daemon=True,
                              args=(svc.sessions, senders_for(app), calendar, svc.settings, stop))
    thread.start()
    return thread, stop
