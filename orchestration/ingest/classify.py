"""The SQL that decides, per landed row, staged or which quarantine reason (SPEC §1).

One pass over the landed text trims every value once and parses it once; the rules, the
duplicate hashes and the typed insert all read those columns. (Re-trimming and re-parsing in
every rule and again for the insert was 38 of the 53 s of loading 10M order lines.)
"""

from __future__ import annotations

from orchestration.ingest.contract import BOOLEAN, DECIMAL, INTEGER, TEXT, TIMESTAMP, Column, Source
from orchestration.warehouse import q

# Rows of a history file of a source without an event time (products) are always visible.
ALWAYS = "date '0001-01-01'"


def _text(column: str) -> str:
    """A landed value, trimmed; empty is NULL.

    DuckDB's ``trim`` removes Unicode space separators and copies every value it is given: a
    third of classifying. A value whose first character is not below '!', whose last is not a
    space and which is all ASCII comes out of ``trim`` unchanged, so only the others (almost
    none) are trimmed: the same result, and 14 columns of 5M lines in 2.1 s instead of 3.4 s."""
    value = q(column)
    needs_trim = f"{value} < '!' or ends_with({value}, ' ') or strlen({value}) <> length({value})"
    return f"nullif(case when {needs_trim} then trim({value}) else {value} end, '')"


def _typed(column: str) -> str:
    """The name of the typed value of a contract column inside ``_checked``'s pass."""
    return q(f"__{column}")


def parse_sql(column: Column) -> str:
    """The SQL expression that types a column's trimmed text (NULL when it does not parse)."""
    value = q(column.name)
    if column.kind == TIMESTAMP:
        return f"try_cast({value} as TIMESTAMP)"
    if column.kind == DECIMAL:
        return f"try_cast({value} as DECIMAL(18,4))"
    if column.kind == INTEGER:
        return f"try_cast(try_cast({value} as DECIMAL(18,4)) as BIGINT)"
    if column.kind == BOOLEAN:
        return f"try_cast(lower({value}) as BOOLEAN)"
    if column.allowed:
        return f"lower({value})"
    return value


def _rules(source: Source, check_products: bool) -> list[tuple[str, str, str]]:
    """(condition, reason, column) in the order of ``contract.QUARANTINE_REASONS``.

    Conditions read a column's trimmed text by its name and its typed value by ``_typed``."""
    rules: list[tuple[str, str, str]] = []
    for c in source.columns:
        if c.required and c.name not in source.nullable_required:
            reason = "missing_key" if c.kind == TEXT else "missing_value"
            rules.append((f"{q(c.name)} is null", reason, c.name))
    if source.one_of:
        condition = " and ".join(f"{q(n)} is null" for n in source.one_of)
        rules.append((condition, "missing_value", "|".join(source.one_of)))
    bad = "{value} is not null and {parsed} is null"
    for c in source.columns:
        if c.kind == TIMESTAMP:
            rules.append(
                (bad.format(value=q(c.name), parsed=_typed(c.name)), "unparseable_date", c.name)
            )
    for c in source.columns:
        if c.kind in (DECIMAL, INTEGER):
            reason = "non_numeric_quantity" if c.name == "quantity" else "non_numeric_value"
            rules.append((bad.format(value=q(c.name), parsed=_typed(c.name)), reason, c.name))
    for c in source.columns:
        parsed = _typed(c.name)
        if c.kind == BOOLEAN:
            rules.append((bad.format(value=q(c.name), parsed=parsed), "invalid_value", c.name))
        if c.allowed:
            allowed = ", ".join(f"'{v}'" for v in c.allowed)
            rules.append((f"{parsed} not in ({allowed})", "invalid_value", c.name))
        if c.bounds:
            low, high = c.bounds
            rules.append((f"{parsed} not between {low} and {high}", "invalid_value", c.name))
    if source.event_time:
        event = _typed(source.event_time)
        rules.append((f"{event} >= _drop_date + interval 1 day", "future_date", source.event_time))
    if check_products:
        rules.append(
            (
                f"{q('product_id')} not in (select product_id from raw.products)",
                "unknown_product",
                "product_id",
            )
        )
    return rules


def _repeated(hash_column: str) -> str:
    """The condition that selects the duplicate candidates of ``_checked``: rows whose
    ``hash_column`` occurs more than once."""
    return f"""{hash_column} in (
        select {hash_column} from _checked where {hash_column} is not null
        group by {hash_column} having count(*) > 1)"""


def classify_sql(source: Source, check_products: bool) -> list[str]:
    """Statements that build ``_checked`` (every landed row, typed, with the reason of the first
    rule it breaks; NULL = valid) and ``_dupes`` (the valid rows that repeat an earlier one).

    Duplicates are ranked exactly (``row_number`` over the drop date and the whole line, or
    over the key), but only among *candidates*: rows whose 64-bit hash of those values occurs
    more than once. Hash aggregates are cheap and parallel; a window sort over 14 text columns
    of every landed row was most of the time of a load. A hash collision only makes a row a
    candidate, never a duplicate.

    The whole line is the line as the user's file has it: for a file read through a mapping,
    every column of the file, mapped or not (``_line``, with the file's column names in
    ``_files._layout``); for a contract file, its contract columns.
    """
    names = source.column_names
    rules = _rules(source, check_products)
    # The first rule that matches, evaluated once; its reason and column are looked up by index.
    # Rule 0: the mapping rejected the row itself (a lookup without a match) and says why.
    rule = (
        "case when _mapped_reason is not null then 0 "
        + " ".join(f"when {c} then {i}" for i, (c, _, _) in enumerate(rules, 1))
        + " end"
    )
    reasons = "[" + ", ".join(f"'{r}'" for _, r, _ in rules) + "]"
    columns = "[" + ", ".join(f"'{col}'" for _, _, col in rules) + "]"
    trimmed = ", ".join(f"{_text(c)} as {q(c)}" for c in names)
    typed = ", ".join(f"{parse_sql(c)} as {_typed(c.name)}" for c in source.columns)
    keep = ", ".join(f"{_typed(c)} as {q(c)}" for c in names)
    business = ", ".join(q(c) for c in names)
    key = ", ".join(_typed(k) for k in source.key)
    key_complete = " and ".join(f"{_typed(k)} is not null" for k in source.key)
    visible = (
        f"coalesce(cast({_typed(source.event_time)} as DATE), _drop_date)"
        if source.event_time
        else ALWAYS
    )
    checked = f"""
        create or replace temp table _checked as
        select _file, _row_number, _drop_date,
            case when _history then {visible} else _drop_date end as _visible_from, {keep},
            case when _rule = 0 then _mapped_reason else {reasons}[_rule] end as _reason,
            case when _rule = 0 then _mapped_column else {columns}[_rule] end as _column,
            _line_hash, _key_hash
        from (
            select *,
                case when _rule is null then
                    case when _line is null then hash(_drop_date, {business})
                         else hash(_drop_date, _line) end
                end as _line_hash,
                case when _rule is null and {key_complete}
                     then hash(_drop_date, {key}) end as _key_hash
            from (
                select *, {rule} as _rule
                from (
                    select *, {typed}
                    from (
                        select _file, _row_number, _drop_date, _history, _line,
                            _mapped_reason, _mapped_column, {trimmed}
                        from _landing)
                )
            )
        )
    """
    # The exact comparison of line candidates needs their text: few rows, re-read. A mapped
    # file's line is compared with its column names (two files of one drop may differ in them).
    contract_only = ", ".join(
        f"case when _line is null then {_text(c)} end as {q(c)}" for c in names
    )
    line_candidates = f"""
        select _file, _row_number, row_number() over (
            partition by _drop_date, _layout, _line, {business}
            order by _file, _row_number) as _copy
        from (
            select _file, _row_number, _drop_date, _layout, _line, {contract_only}
            from _landing
            join (select _file, _layout from _files) using (_file)
            semi join (
                select _file, _row_number from _checked where {_repeated("_line_hash")}
            ) c using (_file, _row_number)
        )
    """
    key_names = ", ".join(q(k) for k in source.key)
    key_candidates = f"""
        select _file, _row_number, row_number() over (
            partition by _drop_date, {key_names} order by _file, _row_number) as _key_rank
        from _checked
        where {_repeated("_key_hash")}
    """
    dupes = f"""
        create or replace temp table _dupes as
        select _file, _row_number,
            case when d._copy > 1 then 'duplicate_line' else 'duplicate_key' end as _reason,
            case when d._copy > 1 then '*' else '{"|".join(source.key)}' end as _column
        from ({line_candidates}) d
        full outer join ({key_candidates}) k using (_file, _row_number)
        where d._copy > 1 or k._key_rank > 1
    """
    return [checked, dupes]
