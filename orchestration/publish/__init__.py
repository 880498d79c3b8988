"""Publication for BI (SPEC §9): tables (what BI gets) -> file (the new DuckDB file) ->
exports and report (per as-of date) -> publication (the atomic swap, forward only) with
history (what was published, settled after a crash)."""

from orchestration.publish.file import PiiLeakError, PublishError, read_publication
from orchestration.publish.history import (
    ABANDONED,
    FAILED,
    LOG_NAME,
    NOT_PUBLISHED,
    PUBLISHED,
    PUBLISHING,
    published_as_of,
    read_log,
    settle,
)
from orchestration.publish.publication import Publication, publish
from orchestration.publish.tables import (
    AS_OF,
    HISTORY_TABLE,
    PUBLICATION_TABLE,
    PUBLISHED_TABLES,
    UNDATED,
    UP_TO,
    PublishedTable,
)

__all__ = [
    "ABANDONED",
    "AS_OF",
    "FAILED",
    "HISTORY_TABLE",
    "LOG_NAME",
    "NOT_PUBLISHED",
    "PUBLICATION_TABLE",
    "PUBLISHED",
    "PUBLISHED_TABLES",
    "PUBLISHING",
    "UNDATED",
    "UP_TO",
    "PiiLeakError",
    "Publication",
    "PublishError",
    "PublishedTable",
    "publish",
    "published_as_of",
    "read_log",
    "read_publication",
    "settle",
]
