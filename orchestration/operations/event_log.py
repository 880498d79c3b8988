"""The Dagster event log of a clientele home: Dagster's own SQLite event log, with one open
connection per database instead of a new engine and connection for every write.

Dagster's ``SqliteEventLogStorage`` creates an SQLAlchemy engine, opens the SQLite file and
closes both again for every write; an event is several writes (the run's database, the index,
the asset and check tables). That costs about 15 ms an event on this machine, and a night
writes about 700 events (75 assets and 137 checks, each planned, evaluated and output): 10 s
of the run, 3 s of it before the first step, when the run's planned events are written.
Keeping each database's connection open makes an event about 3 ms.

Same files, schema and locking as Dagster's (this class only overrides how a connection is
obtained), so the UI, the daemon and ``dagster`` commands read the history as before. A
connection is kept for the ``OPEN_DATABASES`` most recently used databases (the index and the
current run's, in a run; the UI touches many runs, each closed when it falls out).

Private piece: ``SqliteEventLogStorage._connect(shard)``, the one place Dagster's storage gets
its connections (guarded by tests/test_event_log.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

OPEN_DATABASES = 8


class ClienteleEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` keeping its SQLite connections open (see the module)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> ClienteleEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # The same steps as Dagster's _connect, on a kept engine instead of a new one.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        # Dagster asks before every check event (sometimes holding a connection: no _db_lock
        # here), on a new engine of its own each time.
        with self._engine(INDEX_SHARD_NAME).connect() as conn:
            return bool(conn.dialect.has_table(conn, table_name))

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = db.create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=QueuePool,
                    pool_size=1,
                    max_overflow=2,
                    # Used by whichever thread holds _db_lock (the UI watches from threads).
                    connect_args={
                        "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                        "check_same_thread": False,
                    },
                )
            self._engines[shard] = engine
            while len(self._engines) > OPEN_DATABASES:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    def _close_all(self) -> None:
        with self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()  # before Dagster deletes the run databases' files
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
