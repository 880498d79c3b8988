"""The frame a suite validates, read with DuckDB through Arrow into pandas without copies where
it can be avoided (GE cannot validate DuckDB through its SQL datasource)."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.quality.suites import Suite, display_path
from orchestration.warehouse import quote_identifier


class FrameError(RuntimeError):
    """The frame of a suite could not be read from the warehouse (missing table, bad SQL)."""


def read_frame(
    con: duckdb.DuckDBPyConnection, suite: Suite, asset: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """The frame a suite validates: its query, else the needed columns of its table."""
    asset = asset or suite.assets[0]
    if suite.query:
        params = {"asset_name": asset[-1]}
        sql, bound = suite.query, {k: params[k] for k in suite.query_parameters}
    else:
        sql, bound = _table_sql(con, suite, asset), {}
    try:
        table = con.sql(sql, params=bound or None).to_arrow_table()
    except duckdb.Error as exc:
        raise FrameError(f"{display_path(suite.path)}: reading the frame failed: {exc}") from exc
    missing = [c for c in suite.row_id if c not in table.column_names]
    if missing:
        raise FrameError(
            f"{display_path(suite.path)}: row_id column {missing[0]!r} is not in the frame"
        )
    return to_pandas(table)


def _table_sql(con: duckdb.DuckDBPyConnection, suite: Suite, asset: tuple[str, ...]) -> str:
    schema, name = suite.table_for(asset).split(".")
    rows = con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
        "order by column_index",
        [schema, name],
    ).fetchall()
    existing = [r[0] for r in rows]
    if not existing:
        raise FrameError(
            f"{display_path(suite.path)}: table {schema}.{name} is not in the warehouse"
        )
    wanted = set(suite.row_id)
    for e in suite.expectations:
        if e.type.startswith("expect_table_"):
            wanted = set(existing)
            break
        wanted.update(e.columns)
    # Only the columns the suite looks at (wide tables, millions of rows); a column that does
    # not exist is left out so that GE reports it on its expectation.
    chosen = [c for c in existing if c in wanted] or existing[:1]
    columns = ", ".join(quote_identifier(c) for c in chosen)
    return f"select {columns} from {quote_identifier(schema)}.{quote_identifier(name)}"


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas keeping NULL and NaN apart, in dtypes GE checks fast.

    GE's pandas ``between`` is vectorized only for numpy ints and floats; on any other dtype it
    calls a Python function per value (11 s for one suite of 400k customers). So numbers become
    numpy columns where that loses nothing: integers (with NULL: floats, exact for counts and
    scores) and floats without NaN (NULL becomes NaN, which every expectation treats as
    missing). A float column that holds NaN stays Arrow-backed, so that NaN is an ordinary value
    range rules flag rather than a missing one. Decimals (money) become floats: range rules need
    numbers, exact-to-the-cent rules belong in a suite query.

    Text stays in Arrow (no copy into Python strings), and text with few distinct values
    (labels, codes) becomes categorical: GE hashes the whole frame and filters every column
    once per expectation, which costs little on category codes and much on 400k strings.
    """
    frame = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            frame[name] = _text_series(column)
            continue
        if pa.types.is_decimal(column.type):
            column = pc.cast(column, pa.float64())
        numpy = pa.types.is_integer(column.type) or (
            pa.types.is_floating(column.type) and not pc.any(pc.is_nan(column)).as_py()
        )
        if numpy:
            frame[name] = column.to_numpy(zero_copy_only=False)
        else:
            frame[name] = column.to_pandas(types_mapper=_pandas_dtype)
    return pd.DataFrame(frame, index=pd.RangeIndex(table.num_rows))


CATEGORY_PROBE = 10_000


def _text_series(column: pa.ChunkedArray) -> pd.Series:
    """Categorical when values repeat (at most one distinct value per two rows of the first
    ``CATEGORY_PROBE`` rows: counting over 4M ids costs seconds) and none is NULL (a
    categorical NULL would show as "NaN" in the samples), else Arrow-backed text. Either way
    the values and the outcomes are the same; only the speed differs."""
    probe = column.slice(0, CATEGORY_PROBE)
    repeats = len(probe) > 0 and pc.count_distinct(probe).as_py() * 2 <= len(probe)
    if repeats and column.null_count == 0:
        return pd.Series(column.dictionary_encode().to_pandas())
    return pd.Series(pd.arrays.ArrowExtensionArray(column))


def _pandas_dtype(arrow_type: pa.DataType) -> Any:
    """The dtype of a column ``to_pandas`` leaves to pandas (integers and text never get
    here)."""
    if pa.types.is_floating(arrow_type):
        return pd.ArrowDtype(arrow_type)
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None
