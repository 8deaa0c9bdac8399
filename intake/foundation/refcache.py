"""Reference data read on every chat turn but changed a few times a year (counties, a county's sites), kept per
process and database for a short while; a change made by another process shows within that while."""
from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session


class RefCache:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: weakref.WeakKeyDictionary[Engine, dict[Hashable, tuple[float, Any]]] = \
            weakref.WeakKeyDictionary()

    def get(self, session: Session, key: Hashable, load: Callable[[], Any]) -> Any:
        entries = self._entries.setdefault(session.get_bind().engine, {})
        now = time.monotonic()
        found = entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = load()
        entries[key] = (now + self.seconds, value)
        return value

    def clear(self) -> None:
        """After this process changed the data: its next reader loads it afresh."""
        self._entries.clear()
