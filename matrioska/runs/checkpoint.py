"""Checkpointers: SQLite on this machine (the default), PostgreSQL when one machine is not enough.

`open_checkpointer(target)` takes a SQLite file path or a `postgres://` / `postgresql://` URL and
returns the LangGraph saver and a function that closes it. Every failure is a one-line
`CheckpointError` that says what to do. `has_thread(target, thread_id)` asks only whether a run
is stored there (the CLI's `resume` asks before it loads a model).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, OutputPathError

__all__ = ["open_checkpointer", "is_postgres_url", "prune_history", "has_thread"]


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgres://", "postgresql://"))


def open_checkpointer(target: str | os.PathLike[str]) -> tuple[Any, Callable[[], None]]:
    """The saver for a SQLite path or a PostgreSQL URL, and its close function."""
    if is_postgres_url(target):
        return _postgres(str(target))
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = _connect(Path(target))
    serde = EntryBlobSerializer(conn)
    saver = SqliteSaver(conn, serde=serde)
    serde.lock = saver.lock
    return saver, conn.close


_HAS_THREAD = "SELECT 1 FROM checkpoints WHERE thread_id = {} AND checkpoint_ns = '' LIMIT 1"


def has_thread(target: str | os.PathLike[str], thread_id: str) -> bool:
    """Whether the checkpointer at `target` (a SQLite path or a PostgreSQL URL) holds a checkpoint
    of `thread_id`. A SQLite database that does not exist is not created, and one is only read."""
    if is_postgres_url(target):
        saver, close = _postgres(str(target))  # its tables exist once this returns
        try:
            return saver.conn.execute(_HAS_THREAD.format("%s"), (thread_id,)).fetchone() is not None
        finally:
            close()
    path = Path(target)
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60.0)
        try:
            return conn.execute(_HAS_THREAD.format("?"), (thread_id,)).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return False  # the file was made, no checkpoint was ever written
        raise CheckpointError(f"cannot read the checkpoint database {str(path)!r}: {exc}") from None
    except sqlite3.Error as exc:
        raise CheckpointError(f"cannot read the checkpoint database {str(path)!r}: {exc}") from None


class EntryBlobSerializer:
    """LangGraph's serializer, except that a checkpoint keeps the large entries of its growing
    dict channels (artifacts, module reports, shared state) once, by content hash, in a side
    table, and refers to them.

    The SQLite saver writes every checkpoint whole: with artifacts inline, step k re-serialises
    k artifacts, so time and bytes grow with the square of the modules. Here an entry is
    serialised and stored once (recognised by identity on later steps), and a checkpoint holds
    a short reference. The blobs are written in the same transaction as the checkpoint that
    first refers to them, so a crash never leaves a reference without its blob.
    """

    CHANNELS = ("artifacts", "module_reports", "shared_state", "generated_files")
    MIN_BYTES = 256
    _REF = "__matrioska_blob__"

    def __init__(self, conn: sqlite3.Connection) -> None:
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

        self.inner = JsonPlusSerializer()
        self.conn = conn
        self.lock: Any = None  # the saver's lock, set once the saver exists
        self._seen: dict[int, tuple[Any, Any]] = {}  # id(value) -> (value, what the checkpoint holds)
        self._loaded: dict[str, Any] = {}
        conn.execute("CREATE TABLE IF NOT EXISTS matrioska_blobs (sha TEXT PRIMARY KEY, type TEXT, data BLOB)")
        conn.commit()

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        values = obj.get("channel_values") if isinstance(obj, dict) else None
        if isinstance(values, dict) and any(isinstance(values.get(c), dict) for c in self.CHANNELS):
            values = dict(values)
            for channel in self.CHANNELS:
                if isinstance(values.get(channel), dict):
                    values[channel] = {key: self._reference(v) for key, v in values[channel].items()}
            obj = {**obj, "channel_values": values}
        return self.inner.dumps_typed(obj)

    def _reference(self, value: Any) -> Any:
        known = self._seen.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        type_, data = self.inner.dumps_typed(value)
        reference = value
        if len(data) >= self.MIN_BYTES:
            sha = hashlib.sha256(type_.encode() + b"\0" + data).hexdigest()
            # Not committed here: the saver's commit of the checkpoint commits it too.
            with self.lock or contextlib.nullcontext():
                self.conn.execute("INSERT OR IGNORE INTO matrioska_blobs VALUES (?, ?, ?)", (sha, type_, data))
            reference = {self._REF: sha}
        if len(self._seen) > 100_000:
            self._seen.clear()
        self._seen[id(value)] = (value, reference)
        return reference

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        obj = self.inner.loads_typed(data)
        values = obj.get("channel_values") if isinstance(obj, dict) else None
        if isinstance(values, dict):
            for channel in self.CHANNELS:
                entries = values.get(channel)
                if isinstance(entries, dict):
                    values[channel] = {key: self._resolve(v) for key, v in entries.items()}
        return obj

    def _resolve(self, value: Any) -> Any:
        if not (isinstance(value, dict) and len(value) == 1 and self._REF in value):
            return value
        sha = value[self._REF]
        if sha not in self._loaded:
            # Called by the saver while it holds its lock: read without taking it again.
            row = self.conn.execute("SELECT type, data FROM matrioska_blobs WHERE sha = ?", (sha,)).fetchone()
            if row is None:
                raise CheckpointError(f"the checkpoint database lacks blob {sha[:12]}; it is damaged")
            if len(self._loaded) > 10_000:
                self._loaded.clear()
            self._loaded[sha] = self.inner.loads_typed((row[0], row[1]))
        return self._loaded[sha]


def prune_history(saver: Any, thread_id: str, keep: int, *, vacuum: bool = True) -> int:
    """Delete a SQLite thread's checkpoints older than its `keep` latest (and their writes).

    The SQLite saver stores every checkpoint whole, so a thread's history grows with the square
    of its modules (each checkpoint holds every artifact so far); resuming needs only the
    latest checkpoint and its pending writes, which are kept. Returns the checkpoints deleted;
    other savers (PostgreSQL stores channel values by version) are left alone. `vacuum` gives
    the freed pages back to the file system (a few ms; free pages are reused anyway, so a run
    vacuums now and then and when it ends).
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    if not isinstance(saver, SqliteSaver) or keep < 1:
        return 0
    # Strictly older than the keep-th newest: a range scan on the primary key, whatever the
    # size of the history (NULL, so nothing, when there are fewer than `keep`).
    older = (
        "thread_id = ? AND checkpoint_ns = '' AND checkpoint_id < (SELECT checkpoint_id FROM checkpoints "
        "WHERE thread_id = ? AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1 OFFSET ?)"
    )
    with saver.lock:
        cursor = saver.conn.execute(f"DELETE FROM checkpoints WHERE {older}", (thread_id, thread_id, keep - 1))
        deleted = cursor.rowcount
        saver.conn.execute(f"DELETE FROM writes WHERE {older}", (thread_id, thread_id, keep - 1))
        saver.conn.commit()
        if vacuum:
            # Give the freed pages back (databases created here use auto_vacuum=INCREMENTAL);
            # executescript steps the pragma to completion, execute() would free one page.
            saver.conn.executescript("PRAGMA incremental_vacuum;")
    return deleted


def _postgres(url: str) -> tuple[Any, Callable[[], None]]:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row
    except ImportError:
        raise CheckpointError(
            "a postgres:// checkpointer needs the postgres extra: pip install 'matrioska[postgres]'"
        ) from None
    safe = _redact(url)
    try:
        # autocommit and no prepared statements: what PostgresSaver expects of a plain connection.
        conn = Connection.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row, connect_timeout=10)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot connect to the checkpoint database {safe}: {reason}") from None
    saver = PostgresSaver(conn)
    try:
        saver.setup()  # creates or migrates the tables; safe to run from several processes
    except Exception as exc:
        conn.close()
        raise CheckpointError(f"cannot prepare the checkpoint tables in {safe}: {exc}".splitlines()[0]) from None
    return saver, conn.close


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _connect(path: Path) -> sqlite3.Connection:
    """A SQLite connection that several threads and processes can share a database through.

    WAL lets readers and one writer work at once; the busy timeout makes a writer wait for
    another process's transaction instead of failing with "database is locked". Switching a new
    database to WAL takes an exclusive lock that SQLite does not always wait for (several
    processes opening a fresh database at once), so that one statement is retried.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=60.0)
        conn.execute("PRAGMA busy_timeout=60000")
        # WAL with synchronous=NORMAL: a commit survives the process being killed (the kill
        # test proves it); only a power cut can lose the last commits. FULL would fsync on
        # every checkpoint, a large share of the per-module overhead.
        conn.execute("PRAGMA synchronous=NORMAL")
        # Lets pruned history shrink the file (takes effect only on a database not yet created).
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        deadline = time.monotonic() + 60.0
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    except (OSError, sqlite3.Error) as exc:
        raise OutputPathError(f"cannot open the checkpoint database {str(path)!r}: {exc}") from None
    return conn
