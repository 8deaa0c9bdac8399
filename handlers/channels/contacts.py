"""Senders for department contacts that are not chat channels: e-mail and signed webhooks.

Kept apart from `build_senders` (the chat channels) so each set is wired and tested on its own; the app merges
both into the outbox's registry.
"""
from __future__ import annotations

from intake.delivery.outbox import Sender
from intake.foundation.settings import Settings

from . import email, webhook


def build_contact_senders(settings: Settings) -> dict[str, Sender]:
    """The configured ones only: a scheme without a sender is never claimed, so its rows wait, visible, until
    the channel is configured."""
    senders: dict[str, Sender] = {}
    if email.configured(settings):
        senders[email.SCHEME] = email.make_sender(settings)
    if webhook.configured(settings):
        senders[webhook.SCHEME] = webhook.make_sender(settings)
    return senders
