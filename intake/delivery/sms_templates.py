"""Mainland SMS gateways send approved templates (模板) only: every outbound text is mapped onto one, its words
spread over the template's variables, each at most `variable_max_chars` long. A text too long for one message
is split over several, marked (1/2), (2/2) ..., never cut off.

Pure functions of the settings, shared by the gateway senders (which turn them into SDK calls) and `doctor`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from intake.foundation.settings import SmsSettings
from intake.foundation.texts import WORKER_TEXT

REPLY = "reply"  # the payload kind of a chat answer that goes out through the outbox
NOTICE = "notice"  # the template of every notice kind that has none of its own
# Every payload kind the service sends to a phone: the worker's notices, and the staff notices that a
# department's SMS contacts receive (new cases, co-handling, transfers, clocks, failures, calls for help).
NOTICE_KINDS = (*(f"worker_{kind}" for kind in WORKER_TEXT), "new_case", "co_handler", "transferred",
                "clock_warning", "clock_overdue", "escalated", "supervision_overdue", "timer_failed", "dead_letter",
                "human_requested", "co_step_reminder", "co_step_overdue", "task_reminder", "task_overdue", "criticism",
                "rectification_reminder", "rectification_overdue", "site_petition")
# The gateway prints the approved signature itself; a text's own 【清零】 would show twice.
_SIGNATURE = re.compile(r"^【[^】]{1,20}】")
# Where a long text is best split: after a sentence, then after a clause.
_BREAKS = "。！？；!?;，,、 "


@dataclass(frozen=True)
class Templates:
    codes: Mapping[str, str]
    variables: tuple[str, ...]
    max_chars: int

    @classmethod
    def from_settings(cls, sms: SmsSettings) -> Templates:
        return cls(dict(sms.templates), tuple(sms.template_variables), sms.variable_max_chars)

    @property
    def capacity(self) -> int:
        """Characters one message carries."""
        return len(self.variables) * self.max_chars

    def code_for(self, kind: str) -> str | None:
        """The template for a payload kind: its own, else (for notices) the general notice template."""
        if kind in self.codes:
            return self.codes[kind]
        return None if kind == REPLY else self.codes.get(NOTICE)

    def missing(self) -> list[str]:
        """Kinds that nothing could carry: the chat's replies and every notice kind."""
        return [kind for kind in (REPLY, *NOTICE_KINDS) if self.code_for(kind) is None]

    def pieces(self, text: str) -> list[str]:
        """The texts of the messages that carry `text`, each within one template's capacity."""
        body = _body(text)
        if len(body) <= self.capacity:
            return [body]
        count = -(-len(body) // self.capacity)
        while True:  # the marker's length depends on the count, which depends on the room the marker leaves
            room = self.capacity - len(_marker(count, count))
            if room < 1:
                raise ValueError(f"a template of {self.capacity} characters cannot carry a split text")
            chunks = _cut(body, room)
            if len(chunks) == count:
                return [_marker(i, count) + chunk for i, chunk in enumerate(chunks, 1)]
            count = len(chunks)

    def values(self, text: str) -> dict[str, str]:
        """One message's text spread over the variables in order (unused ones empty)."""
        body = _body(text)
        if len(body) > self.capacity:
            raise ValueError(f"{len(body)} characters do not fit a template of {self.capacity}; split it first")
        size = self.max_chars
        return {name: body[i * size:(i + 1) * size] for i, name in enumerate(self.variables)}


def _body(text: str) -> str:
    return _SIGNATURE.sub("", text.strip(), count=1)


def _marker(index: int, count: int) -> str:
    return f"({index}/{count})"


def _cut(text: str, size: int) -> list[str]:
    """Chunks of at most `size` characters, cut after punctuation where one falls in the chunk's second half."""
    chunks = []
    while len(text) > size:
        head = text[:size]
        at = max(head.rfind(mark) for mark in _BREAKS)
        end = at + 1 if at >= size // 2 else size
        chunks.append(text[:end])
        text = text[end:]
    return [*chunks, text] if text else chunks
