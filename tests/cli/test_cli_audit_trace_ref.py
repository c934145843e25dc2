"""`guardgraph audit trace` accepts what `audit query` shows: an id prefix or a seq."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from guardgraph.cli import app


def test_trace_by_full_id_prefix_and_seq_agree(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    runner = CliRunner()
    made = runner.invoke(app, ["audit", "generate", db, "--sessions", "5", "--seed", "3"])
    assert made.exit_code == 0
    listed = runner.invoke(app, ["audit", "query", db, "--kind", "verdict", "--limit", "1",
                                 "--format", "jsonl"])
    assert listed.exit_code == 0, listed.output
    record = json.loads(listed.output.splitlines()[0])
    full = runner.invoke(app, ["audit", "trace", db, record["id"]])
    by_prefix = runner.invoke(app, ["audit", "trace", db, record["id"][:8]])
    by_seq = runner.invoke(app, ["audit", "trace", db, str(record["seq"])])
    assert full.exit_code == by_prefix.exit_code == by_seq.exit_code == 0
    assert full.output == by_prefix.output == by_seq.output
    missing = runner.invoke(app, ["audit", "trace", db, "zzzzzzzz"])
    assert missing.exit_code == 2
