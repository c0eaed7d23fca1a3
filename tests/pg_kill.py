"""Kill a real PostgreSQL backend from a second connection (pg_terminate_backend), right after a
chosen statement has run on it: the fault tests' way of losing the connection mid-work."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

from sqlalchemy import event, text

from registry.extensions import db


@contextmanager
def backend_killed_after(killer, chosen: Callable[[str], bool]):
    """Terminate the backend of the first connection of ``db.engine`` that runs a statement for
    which ``chosen(statement)`` is true, as soon as it has run. ``killer`` is an AUTOCOMMIT
    engine on the same database. Yields the list of killed backend pids (one at most)."""
    fired: list[int] = []

    def kill(conn, _cursor, statement, _params, _context, _many):
        if fired or not chosen(statement):
            return
        pid = conn.connection.driver_connection.info.backend_pid
        with killer.connect() as other:
            # Waits (up to 5 s) until the backend is gone, so the next statement meets a dead connection.
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
        fired.append(pid)

    event.listen(db.engine, "after_cursor_execute", kill)
    try:
        yield fired
    finally:
        event.remove(db.engine, "after_cursor_execute", kill)
