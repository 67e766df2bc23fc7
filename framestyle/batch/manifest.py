"""The batch manifest: one SQLite file (WAL) in OUT_DIR that makes a batch job resumable.

Only the coordinating process writes it. A row is marked `done` only after its output has been renamed to its
final name, so a job killed at any moment never has a `done` row without a complete output.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from ..errors import UserError

MANIFEST_NAME = ".framestyle-batch.sqlite"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    rel TEXT PRIMARY KEY,          -- input path relative to the input root, '/'-separated
    size INTEGER NOT NULL,         -- input size in bytes when last seen
    mtime_ns INTEGER NOT NULL,     -- input modification time when last seen
    state TEXT NOT NULL,           -- pending | done | failed
    output TEXT,                   -- output path relative to OUT_DIR
    sha256 TEXT,                   -- checksum of the output file
    error TEXT,                    -- why it failed
    fingerprint TEXT NOT NULL,     -- options fingerprint the row was made with
    seconds REAL,                  -- work time
    updated REAL NOT NULL
);
"""


@dataclass
class Row:
    rel: str
    size: int
    mtime_ns: int
    state: str
    output: Optional[str]
    sha256: Optional[str]
    error: Optional[str]
    fingerprint: str


class Manifest:
    """Read and update the per-input records of one output folder."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / MANIFEST_NAME
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path}: unreadable batch manifest ({exc}); delete it to start over") from None

    def close(self) -> None:
        self.db.close()

    # -- job-level settings -------------------------------------------------------------------------
    def get_meta(self, key: str) -> Optional[str]:
        r = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return r[0] if r else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def check_options(self, fingerprint: str, options: dict) -> None:
        """Refuse to mix outputs made with different settings in one folder."""
        old = self.get_meta("fingerprint")
        if old is None:
            self.set_meta("schema", SCHEMA_VERSION)
            self.set_meta("fingerprint", fingerprint)
            self.set_meta("options", json.dumps(options, sort_keys=True))
            return
        if old == fingerprint:
            return
        try:
            before = json.loads(self.get_meta("options") or "{}")
        except ValueError:
            before = {}
        diff = [f"{k}: {before.get(k)!r} -> {options.get(k)!r}" for k in sorted(set(before) | set(options))
                if before.get(k) != options.get(k)]
        raise UserError(f"{self.path.parent} holds outputs made with other settings ({'; '.join(diff) or 'model'})"
                        f"; use another output folder, or delete {self.path.name} there to redo every file")

    # -- rows ---------------------------------------------------------------------------------------
    def rows(self) -> Dict[str, Row]:
        cur = self.db.execute("SELECT rel, size, mtime_ns, state, output, sha256, error, fingerprint FROM items")
        return {r[0]: Row(*r) for r in cur}

    def mark_pending(self, items, fingerprint: str) -> None:
        """Record inputs about to be (re)done, in one transaction."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO items(rel, size, mtime_ns, state, output, sha256, error, fingerprint, "
                "seconds, updated) VALUES (?, ?, ?, 'pending', ?, NULL, NULL, ?, NULL, ?)",
                [(it.rel, it.size, it.mtime_ns, it.out_rel, fingerprint, now) for it in items])

    def mark_done(self, rel: str, output: str, sha256: str, seconds: float) -> None:
        self.db.execute("UPDATE items SET state='done', output=?, sha256=?, error=NULL, seconds=?, updated=? "
                        "WHERE rel=?", (output, sha256, seconds, time.time(), rel))

    def mark_failed(self, rel: str, error: str, seconds: float) -> None:
        self.db.execute("UPDATE items SET state='failed', sha256=NULL, error=?, seconds=?, updated=? WHERE rel=?",
                        (error, seconds, time.time(), rel))

    def counts(self) -> Dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall())
