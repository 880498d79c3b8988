"""Readers: the fast Arrow path for JSON lines reads exactly what the line-by-line reader does."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from orchestration.ingest.readers import FileRead, _read_jsonl_arrow, read_jsonl, read_jsonl_lines

CLEAN = [
    {"Ticket_ID": "t1", "opened_at": "2025-01-02 09:00:00", "minutes": 12, "vip": True},
    {"Ticket_ID": "t2", "opened_at": "2025-01-03", "minutes": None, "vip": False, "note": "x"},
    {"Ticket_ID": "t3", "opened_at": "2025-01-04 10:00:00", "minutes": -3},
]


def rows(batches) -> tuple[list[str], list[dict]]:
    table = pa.Table.from_batches(list(batches))
    return table.column_names, table.to_pylist()


def both(path: Path) -> tuple:
    fast_info, slow_info = FileRead(path), FileRead(path)
    fast = rows(read_jsonl(path, fast_info))
    slow = rows(read_jsonl_lines(path, slow_info))
    return fast, slow, fast_info, slow_info


def test_clean_file_takes_the_arrow_path_and_reads_the_same(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CLEAN))
    assert _read_jsonl_arrow(path) is not None
    fast, slow, fast_info, slow_info = both(path)
    assert fast[1] == slow[1]  # values as text, NULL kept, line numbers 1..3
    assert set(fast[0]) == set(slow[0]) and fast_info.columns == slow_info.columns
    assert fast[1][0]["opened_at"] == "2025-01-02 09:00:00"  # not re-formatted as a timestamp
    assert (fast[1][0]["minutes"], fast[1][0]["vip"], fast[1][1]["minutes"]) == ("12", "true", None)
    assert [r["_row_number"] for r in fast[1]] == [1, 2, 3]


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(json.dumps(r) for r in CLEAN[:2]) + "\nnot json\n" + json.dumps(CLEAN[2]) + "\n",
        json.dumps(CLEAN[0]) + "\n\n" + json.dumps(CLEAN[1]) + "\n",  # a blank line
        json.dumps(CLEAN[0]) + '\n{"Ticket_ID": "t9", "minutes": "soon"}\n',  # mixed types
        json.dumps(CLEAN[0]) + '\n{"Ticket_ID": "t9", "minutes": 1.5}\n',  # a float
        json.dumps(CLEAN[0]) + '\n{"Ticket_ID": "t9", "tags": ["a", "b"]}\n',  # a list
        json.dumps(CLEAN[0]) + '\n{"ticket_id": "t9", "Ticket_ID": "t8"}\n',  # one key twice
        json.dumps(CLEAN[0]) + "\n[1, 2]\n",  # not an object
    ],
    ids=["malformed", "blank", "mixed", "float", "list", "same-key", "array"],
)
def test_files_arrow_cannot_read_exactly_fall_back_to_the_line_reader(tmp_path, text):
    path = tmp_path / "t.jsonl"
    path.write_text(text)
    assert _read_jsonl_arrow(path) is None
    fast, slow, fast_info, slow_info = both(path)
    assert fast == slow
    assert [(m.line, m.text) for m in fast_info.malformed] == [
        (m.line, m.text) for m in slow_info.malformed
    ]
