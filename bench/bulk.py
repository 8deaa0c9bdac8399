"""Bulk loading for the benches: rows straight into PostgreSQL tables with COPY, then ANALYZE."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Engine


def copy_rows(engine: Engine, tables: Sequence[tuple[str, Sequence[str], Iterable[tuple]]],
              sequences: dict[str, int] | None = None) -> None:
    """COPY each (table, columns, rows) in one transaction, move the id sequences past the ids given."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, columns, rows in tables:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for sequence, value in (sequences or {}).items():
            cur.execute("SELECT setval(%s, %s)", (sequence, value))
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
