"""The label store: SQLite in WAL mode holding queues, tasks, assignments and append-only labels.

Many small writes from several app processes and threads meet an analytical pipeline that only reads,
so the store is SQLite (one writer at a time, readers never blocked) rather than DuckDB (docs/architecture.md, Labels).
Every write is one `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so two writers queue
on the busy timeout instead of failing half-way, and the counters kept on tasks and queues always agree
with the rows they count.

Routing: an item is offered while its load (labels + open assignments) is below the queue's labels per
item, least-loaded first, never to someone who already has or had an assignment on it. That query walks
the partial index `tasks_next` in order and stops at the first fit: it never scans the queue.
Labels cannot be updated or deleted (triggers refuse it); an annotator's live label for a task is unique,
and a repeated submission (double click, retry) returns the label already stored. Undo is a retraction:
a row in `retractions` names the label, the label stays (history is kept), every read skips it, and the
item goes back to the annotator, whose next label on it is a new row (`attempt` + 1).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labeling_app import values
from labeling_app.config import KINDS
from lakehouse.errors import UserError
from lakehouse.location import ObjectPath

SCHEMA_VERSION = 3
UNDO_SECONDS = 120
BUSY_TIMEOUT_S = 60.0

TURNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    turn_id     INTEGER PRIMARY KEY,
    task_id     INTEGER NOT NULL REFERENCES tasks (task_id),
    queue_id    INTEGER NOT NULL,
    annotator   TEXT NOT NULL,
    turn        INTEGER NOT NULL CHECK (turn >= 0),
    context     TEXT NOT NULL,
    candidates  TEXT NOT NULL,
    sides       TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    seconds     REAL NOT NULL,
    created_at  REAL NOT NULL,
    UNIQUE (task_id, annotator, turn)
);
CREATE INDEX IF NOT EXISTS turns_queue ON turns (queue_id, turn_id);
CREATE TABLE IF NOT EXISTS turn_labels (
    turn_id           INTEGER PRIMARY KEY REFERENCES turns (turn_id),
    value             TEXT NOT NULL,
    seconds           REAL,
    guideline_version TEXT NOT NULL,
    created_at        REAL NOT NULL,
    submission_id     TEXT NOT NULL UNIQUE
);
CREATE TRIGGER IF NOT EXISTS turns_no_update BEFORE UPDATE ON turns
    BEGIN SELECT RAISE(ABORT, 'turns are append-only'); END;
CREATE TRIGGER IF NOT EXISTS turn_labels_no_update BEFORE UPDATE ON turn_labels
    BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
CREATE TRIGGER IF NOT EXISTS turn_labels_no_delete BEFORE DELETE ON turn_labels
    BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
"""

QUEUES_TABLE = f"""
CREATE TABLE IF NOT EXISTS {{table}} (
    queue_id    INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in KINDS)})),
    per_item    INTEGER NOT NULL CHECK (per_item >= 1),
    source      TEXT NOT NULL,
    spec        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    created_by  TEXT NOT NULL,
    n_tasks     INTEGER NOT NULL DEFAULT 0,
    n_labels    INTEGER NOT NULL DEFAULT 0,
    n_complete  INTEGER NOT NULL DEFAULT 0
)
"""

SCHEMA = (
    QUEUES_TABLE.format(table="queues")
    + """;
CREATE TABLE IF NOT EXISTS tasks (
    task_id     INTEGER PRIMARY KEY,
    queue_id    INTEGER NOT NULL REFERENCES queues (queue_id),
    item_key    TEXT NOT NULL,
    payload     TEXT NOT NULL,
    per_item    INTEGER NOT NULL,
    load        INTEGER NOT NULL DEFAULT 0,
    n_labels    INTEGER NOT NULL DEFAULT 0,
    n_skips     INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    gold        TEXT,
    UNIQUE (queue_id, item_key)
);
CREATE INDEX IF NOT EXISTS tasks_gold ON tasks (queue_id, task_id) WHERE gold IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_next ON tasks (queue_id, load, task_id) WHERE load < per_item;
CREATE TABLE IF NOT EXISTS assignments (
    task_id     INTEGER NOT NULL REFERENCES tasks (task_id),
    annotator   TEXT NOT NULL,
    queue_id    INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('open', 'done', 'skipped', 'expired')),
    sides       TEXT,
    assigned_at REAL NOT NULL,
    finished_at REAL,
    skip_reason TEXT,
    PRIMARY KEY (task_id, annotator)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS assignments_mine ON assignments (annotator, queue_id) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS assignments_lease ON assignments (queue_id, assigned_at) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS assignments_annotator ON assignments (annotator, queue_id);
CREATE TABLE IF NOT EXISTS labels (
    label_id          INTEGER PRIMARY KEY,
    task_id           INTEGER NOT NULL REFERENCES tasks (task_id),
    queue_id          INTEGER NOT NULL,
    annotator         TEXT NOT NULL,
    role              TEXT NOT NULL,
    is_adjudication   INTEGER NOT NULL DEFAULT 0,
    value             TEXT NOT NULL,
    seconds           REAL,
    guideline_version TEXT NOT NULL,
    side_mapping      TEXT,
    created_at        REAL NOT NULL,
    submission_id     TEXT NOT NULL UNIQUE,
    attempt           INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS labels_one_each ON labels (task_id, annotator, attempt) WHERE is_adjudication = 0;
CREATE TABLE IF NOT EXISTS retractions (
    label_id    INTEGER PRIMARY KEY REFERENCES labels (label_id),
    annotator   TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS retractions_no_update BEFORE UPDATE ON retractions
    BEGIN SELECT RAISE(ABORT, 'retractions are append-only'); END;
CREATE INDEX IF NOT EXISTS labels_queue ON labels (queue_id, task_id);
CREATE INDEX IF NOT EXISTS labels_annotator ON labels (annotator, queue_id, is_adjudication);
CREATE TRIGGER IF NOT EXISTS labels_no_update BEFORE UPDATE ON labels
    BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
CREATE TRIGGER IF NOT EXISTS labels_no_delete BEFORE DELETE ON labels
    BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
"""
    + TURNS_SCHEMA
)


class StoreError(UserError, ValueError):
    """A request the store refuses (unknown queue, item not assigned to you, ...)."""


@dataclass(frozen=True)
class Queue:
    queue_id: int
    name: str
    kind: str
    per_item: int
    source: str
    spec: dict
    created_at: float
    created_by: str
    n_tasks: int
    n_labels: int
    n_complete: int

    @property
    def target_labels(self) -> int:
        return self.n_tasks * self.per_item


@dataclass(frozen=True)
class Task:
    task_id: int
    queue_id: int
    item_key: str
    payload: dict
    per_item: int
    load: int
    n_labels: int
    n_skips: int
    gold: str | None = None  # a gold item's known answer: JSON {question: answer}


@dataclass(frozen=True)
class Assignment:
    """A task handed to one annotator; `sides[0]` is the candidate shown as A, `sides[1]` as B."""

    task: Task
    annotator: str
    sides: list[int] | None
    assigned_at: float
    state: str


def _inserted_id(cur: sqlite3.Cursor) -> int:
    """The rowid of the row an INSERT on `cur` just added (sqlite sets it on every successful INSERT)."""
    if cur.lastrowid is None:
        raise StoreError("an INSERT returned no row id")
    return cur.lastrowid


@dataclass(frozen=True)
class Submission:
    label_id: int
    created: bool


def store_path(lake_root: Path) -> Path:
    return Path(lake_root) / "labels" / "labels.sqlite"


def local_lake(root: Path | ObjectPath) -> Path:
    """The lake's directory, which must be local: the label store is SQLite, which needs a local filesystem."""
    if not isinstance(root, Path):
        raise UserError(f"the label store needs a local lake directory, not {root} (docs/scale.md)")
    return root


def side_mapping(task_id: int, annotator: str) -> list[int]:
    """Which candidate each annotator sees as A: a coin flip per (task, annotator), reproducible."""
    flip = hashlib.sha256(f"{task_id}:{annotator}".encode()).digest()[0] & 1
    return [1, 0] if flip else [0, 1]


class Store:
    """One connection to the store. Cheap to open; use one per thread or process."""

    def __init__(self, path: Path | str, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            if not self.path.exists():
                raise StoreError(f"no label store at {self.path}")
            self.con = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._init()
        self.con.row_factory = sqlite3.Row
        self.con.execute("PRAGMA foreign_keys = ON")

    @classmethod
    def for_lake(cls, lake_root: Path, *, read_only: bool = False) -> Store:
        return cls(store_path(lake_root), read_only=read_only)

    def _init(self) -> None:
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute("PRAGMA synchronous = NORMAL")
        if self.con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self._write():
            version = self.con.execute("PRAGMA user_version").fetchone()[0]
            if version == 1:  # v1 -> v2: undo (retractions, one live label per attempt) and gold items
                self.con.execute("ALTER TABLE labels ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0")
                self.con.execute("ALTER TABLE tasks ADD COLUMN gold TEXT")
                self.con.execute("DROP INDEX labels_one_each")
            if version in (1, 2):  # v2 -> v3: the interactive kind (the CHECK on kind is rebuilt) and turns
                self._rebuild_queues()
            if version != SCHEMA_VERSION:
                for statement in SCHEMA.split(";\n"):
                    if statement.strip():
                        self.con.execute(statement)
                self.con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _rebuild_queues(self) -> None:
        """SQLite cannot alter a CHECK: copy `queues` into a table with the new one (foreign keys are off
        until `_init` returns, and the tasks' references follow the name)."""
        self.con.execute(QUEUES_TABLE.format(table="queues_v3"))
        self.con.execute("INSERT INTO queues_v3 SELECT * FROM queues")
        self.con.execute("DROP TABLE queues")
        self.con.execute("ALTER TABLE queues_v3 RENAME TO queues")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StoreError("this store connection is read-only")
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- queues and tasks -------------------------------------------------------------------------------

    def create_queue(self, name: str, kind: str, per_item: int, source: str, spec: dict, created_by: str) -> Queue:
        if kind not in KINDS:
            raise StoreError(f"unknown task kind {kind!r}; known: {', '.join(KINDS)}")
        if per_item < 1:
            raise StoreError("labels per item must be at least 1")
        if not name.strip():
            raise StoreError("a queue needs a name")
        with self._write() as con:
            if con.execute("SELECT 1 FROM queues WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"a queue named {name!r} already exists")
            cur = con.execute(
                "INSERT INTO queues (name, kind, per_item, source, spec, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, kind, per_item, source, json.dumps(spec, sort_keys=True), time.time(), created_by),
            )
            queue_id = _inserted_id(cur)
        return self.queue(queue_id)

    def add_tasks(self, queue_id: int, items: Iterable[tuple[str, dict]]) -> tuple[int, int]:
        """Add (item_key, payload) pairs; an item_key already in the queue is not added twice.

        Returns (added, already_present).
        """
        queue = self.queue(queue_id)
        now = time.time()
        rows = [
            (queue_id, key, json.dumps(payload, ensure_ascii=False, sort_keys=True), queue.per_item, now)
            for key, payload in items
        ]
        with self._write() as con:
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO tasks (queue_id, item_key, payload, per_item, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            added = con.total_changes - before
            con.execute("UPDATE queues SET n_tasks = n_tasks + ? WHERE queue_id = ?", (added, queue_id))
        return added, len(rows) - added

    def add_gold(self, queue_id: int, items: Iterable[tuple[str, dict, dict]]) -> tuple[int, int]:
        """Add gold items (item_key, payload, known answer {question: answer}) to a queue.

        Gold items are outside the queue's counts and consensus: `per_item` 0 keeps them out of the
        routing index, and `next_task` mixes them in at the queue's `gold_rate`, each annotator once.
        Returns (added, already_present).
        """
        now = time.time()
        rows = [
            (queue_id, f"gold:{key}", json.dumps(payload, ensure_ascii=False, sort_keys=True), now, json.dumps(answer))
            for key, payload, answer in items
        ]
        self.queue(queue_id)
        with self._write() as con:
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO tasks (queue_id, item_key, payload, per_item, created_at, gold) "
                "VALUES (?, ?, ?, 0, ?, ?)",
                rows,
            )
            added = con.total_changes - before
        return added, len(rows) - added

    def queues(self) -> list[Queue]:
        return [self._queue(r) for r in self.con.execute("SELECT * FROM queues ORDER BY queue_id")]

    def queue(self, queue: int | str) -> Queue:
        column = "name" if isinstance(queue, str) else "queue_id"
        row = self.con.execute(f"SELECT * FROM queues WHERE {column} = ?", (queue,)).fetchone()
        if row is None:
            raise StoreError(f"no queue {queue!r}")
        return self._queue(row)

    @staticmethod
    def _queue(row: sqlite3.Row) -> Queue:
        data = dict(row)
        data["spec"] = json.loads(data["spec"])
        return Queue(**data)

    def task(self, task_id: int) -> Task:
        row = self.con.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is None:
            raise StoreError(f"no task {task_id}")
        return self._task(row)

    @staticmethod
    def _task(row: sqlite3.Row) -> Task:
        data = dict(row)
        data.pop("created_at")
        data["payload"] = json.loads(data["payload"])
        return Task(**data)

    # -- routing ----------------------------------------------------------------------------------------

    def _expire_leases(self, con: sqlite3.Connection, queue: Queue, now: float) -> None:
        cutoff = now - 60 * float(queue.spec.get("lease_minutes", 30))
        expired = con.execute(
            "UPDATE assignments SET state = 'expired', finished_at = ? "
            "WHERE queue_id = ? AND state = 'open' AND assigned_at < ? RETURNING task_id",
            (now, queue.queue_id, cutoff),
        ).fetchall()
        con.executemany("UPDATE tasks SET load = load - 1 WHERE task_id = ?", [(r[0],) for r in expired])

    def next_task(self, queue_id: int, annotator: str, *, now: float | None = None) -> Assignment | None:
        """The annotator's open item in this queue, else a new one by the routing rule, else None."""
        now = time.time() if now is None else now
        queue = self.queue(queue_id)
        with self._write() as con:
            self._expire_leases(con, queue, now)
            row = con.execute(
                "SELECT task_id FROM assignments WHERE annotator = ? AND queue_id = ? AND state = 'open' "
                "ORDER BY assigned_at LIMIT 1",
                (annotator, queue_id),
            ).fetchone()
            if row is None:
                row = self._new_task(con, queue, annotator)
                if row is None:
                    return None
                sides = side_mapping(row[0], annotator) if queue.kind == "pairwise" else None
                con.execute(
                    "INSERT INTO assignments (task_id, annotator, queue_id, state, sides, assigned_at) "
                    "VALUES (?, ?, ?, 'open', ?, ?)",
                    (row[0], annotator, queue_id, json.dumps(sides) if sides else None, now),
                )
                con.execute("UPDATE tasks SET load = load + 1 WHERE task_id = ?", (row[0],))
        return self.assignment(row[0], annotator)

    def _new_task(self, con: sqlite3.Connection, queue: Queue, annotator: str) -> sqlite3.Row | None:
        """A gold item when it is the annotator's gold turn and one is left for them, else the routing rule."""
        if self._gold_turn(con, queue, annotator):
            row = con.execute(
                "SELECT task_id FROM tasks INDEXED BY tasks_gold WHERE queue_id = ? AND gold IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = tasks.task_id AND a.annotator = ?) "
                "ORDER BY task_id LIMIT 1",
                (queue.queue_id, annotator),
            ).fetchone()
            if row is not None:
                return row
        return con.execute(
            "SELECT task_id FROM tasks INDEXED BY tasks_next "
            "WHERE queue_id = ? AND load < per_item AND NOT EXISTS "
            "(SELECT 1 FROM assignments a WHERE a.task_id = tasks.task_id AND a.annotator = ?) "
            "ORDER BY load, task_id LIMIT 1",
            (queue.queue_id, annotator),
        ).fetchone()

    @staticmethod
    def _gold_turn(con: sqlite3.Connection, queue: Queue, annotator: str) -> bool:
        """Whether this annotator's next item is a gold one: with `gold_rate` r, item n+1 is gold when
        floor((n+1) r) > floor(n r), so gold comes evenly spaced (r = 0.1: the 10th, 20th, ...)."""
        rate = float(queue.spec.get("gold_rate", 0.0))
        if rate <= 0:
            return False
        has_gold = con.execute(
            "SELECT 1 FROM tasks INDEXED BY tasks_gold WHERE queue_id = ? AND gold IS NOT NULL LIMIT 1",
            (queue.queue_id,),
        ).fetchone()
        if has_gold is None:
            return False
        n = con.execute(
            "SELECT count(*) FROM assignments WHERE annotator = ? AND queue_id = ?", (annotator, queue.queue_id)
        ).fetchone()[0]
        return int((n + 1) * rate) > int(n * rate)

    def assignment(self, task_id: int, annotator: str) -> Assignment | None:
        """The annotator's assignment on this task (any state), or None when it was never theirs."""
        row = self.con.execute(
            "SELECT * FROM assignments WHERE task_id = ? AND annotator = ?", (task_id, annotator)
        ).fetchone()
        if row is None:
            return None
        return Assignment(
            task=self.task(task_id),
            annotator=annotator,
            sides=json.loads(row["sides"]) if row["sides"] else None,
            assigned_at=row["assigned_at"],
            state=row["state"],
        )

    # -- writes of annotators and reviewers ------------------------------------------------------------

    def submit(
        self,
        task_id: int,
        annotator: str,
        role: str,
        raw_value: dict,
        *,
        seconds: float | None = None,
        submission_id: str | None = None,
        now: float | None = None,
    ) -> Submission:
        """Store an annotator's label for an item assigned to them (once: a repeat returns the first)."""
        now = time.time() if now is None else now
        submission_id = submission_id or uuid.uuid4().hex
        with self._write() as con:
            existing = con.execute(
                "SELECT label_id FROM labels WHERE submission_id = ? OR "
                f"(task_id = ? AND annotator = ? AND is_adjudication = 0 AND {LIVE})",
                (submission_id, task_id, annotator),
            ).fetchone()
            if existing:
                return Submission(existing[0], created=False)
            row = con.execute(
                "SELECT state, sides FROM assignments WHERE task_id = ? AND annotator = ?", (task_id, annotator)
            ).fetchone()
            if row is None:
                raise StoreError(f"item {task_id} is not assigned to {annotator}")
            if row["state"] == "skipped":
                raise StoreError(f"item {task_id} was skipped by {annotator}")
            task = self.task(task_id)
            queue = self.queue(task.queue_id)
            sides = json.loads(row["sides"]) if row["sides"] else None
            value = values.canonical(queue.kind, queue.spec, task.payload, raw_value, sides)
            attempt = con.execute(
                "SELECT count(*) FROM labels WHERE task_id = ? AND annotator = ? AND is_adjudication = 0",
                (task_id, annotator),
            ).fetchone()[0]
            cur = con.execute(
                "INSERT INTO labels (task_id, queue_id, annotator, role, value, seconds, guideline_version, "
                "side_mapping, created_at, submission_id, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    task.queue_id,
                    annotator,
                    role,
                    json.dumps(value, ensure_ascii=False, sort_keys=True),
                    seconds,
                    queue.spec["guideline_version"],
                    _side_json(sides),
                    now,
                    submission_id,
                    attempt,
                ),
            )
            revived = 1 if row["state"] == "expired" else 0
            con.execute(
                "UPDATE assignments SET state = 'done', finished_at = ? WHERE task_id = ? AND annotator = ?",
                (now, task_id, annotator),
            )
            con.execute(
                "UPDATE tasks SET n_labels = n_labels + 1, load = load + ? WHERE task_id = ?", (revived, task_id)
            )
            if task.gold is None:
                completes = 1 if task.n_labels + 1 == task.per_item else 0
                con.execute(
                    "UPDATE queues SET n_labels = n_labels + 1, n_complete = n_complete + ? WHERE queue_id = ?",
                    (completes, task.queue_id),
                )
        return Submission(_inserted_id(cur), created=True)

    def retract(self, label_id: int, annotator: str, *, now: float | None = None) -> int:
        """Undo an annotator's own label within the queue's `undo_seconds`; returns the item's id.

        The label stays in the table (append-only) with a retraction naming it; the item goes back to the
        annotator as an open assignment, so the next label they give it replaces the retracted one.
        """
        now = time.time() if now is None else now
        with self._write() as con:
            row = con.execute("SELECT * FROM labels WHERE label_id = ?", (label_id,)).fetchone()
            if row is None or row["annotator"] != annotator or row["is_adjudication"]:
                raise StoreError(f"label {label_id} is not a label of {annotator}")
            if con.execute("SELECT 1 FROM retractions WHERE label_id = ?", (label_id,)).fetchone():
                raise StoreError(f"label {label_id} was already undone")
            queue = self.queue(row["queue_id"])
            window = float(queue.spec.get("undo_seconds", UNDO_SECONDS))
            if now - row["created_at"] > window:
                raise StoreError(f"label {label_id} is more than {window:g} s old and can no longer be undone")
            task = self.task(row["task_id"])
            con.execute(
                "INSERT INTO retractions (label_id, annotator, created_at) VALUES (?, ?, ?)", (label_id, annotator, now)
            )
            con.execute(
                "UPDATE assignments SET state = 'open', assigned_at = ?, finished_at = NULL "
                "WHERE task_id = ? AND annotator = ?",
                (now, task.task_id, annotator),
            )
            con.execute("UPDATE tasks SET n_labels = n_labels - 1 WHERE task_id = ?", (task.task_id,))
            if task.gold is None:
                uncompletes = 1 if task.n_labels == task.per_item else 0
                con.execute(
                    "UPDATE queues SET n_labels = n_labels - 1, n_complete = n_complete - ? WHERE queue_id = ?",
                    (uncompletes, task.queue_id),
                )
        return task.task_id

    def retractions(self, queue_id: int) -> list[dict]:
        """The undone labels of a queue (the history undo keeps), oldest first."""
        rows = self.con.execute(
            "SELECT r.label_id, l.task_id, r.annotator, l.created_at AS labeled_at, r.created_at AS retracted_at "
            "FROM retractions r JOIN labels l USING (label_id) WHERE l.queue_id = ? ORDER BY r.label_id",
            (queue_id,),
        )
        return [dict(r) for r in rows]

    def skip(self, task_id: int, annotator: str, reason: str, *, now: float | None = None) -> None:
        """Give an item back with a reason; it goes to someone else and never back to this annotator."""
        reason = (reason or "").strip()
        if not reason:
            raise StoreError("a skip needs a reason")
        now = time.time() if now is None else now
        with self._write() as con:
            row = con.execute(
                "SELECT state FROM assignments WHERE task_id = ? AND annotator = ?", (task_id, annotator)
            ).fetchone()
            if row is None:
                raise StoreError(f"item {task_id} is not assigned to {annotator}")
            if row["state"] not in ("open", "expired"):
                raise StoreError(f"item {task_id} is already {row['state']}")
            con.execute(
                "UPDATE assignments SET state = 'skipped', finished_at = ?, skip_reason = ? "
                "WHERE task_id = ? AND annotator = ?",
                (now, reason[:1000], task_id, annotator),
            )
            released = 1 if row["state"] == "open" else 0
            con.execute(
                "UPDATE tasks SET load = load - ?, n_skips = n_skips + 1 WHERE task_id = ?", (released, task_id)
            )

    def adjudicate(
        self,
        task_id: int,
        reviewer: str,
        raw_value: dict,
        *,
        submission_id: str | None = None,
        now: float | None = None,
    ) -> Submission:
        """Store a reviewer's decision on an item; the latest decision is the item's consensus."""
        now = time.time() if now is None else now
        submission_id = submission_id or uuid.uuid4().hex
        task = self.task(task_id)
        queue = self.queue(task.queue_id)
        value = values.canonical(queue.kind, queue.spec, task.payload, raw_value, [0, 1])
        with self._write() as con:
            existing = con.execute("SELECT label_id FROM labels WHERE submission_id = ?", (submission_id,)).fetchone()
            if existing:
                return Submission(existing[0], created=False)
            cur = con.execute(
                "INSERT INTO labels (task_id, queue_id, annotator, role, is_adjudication, value, seconds, "
                "guideline_version, side_mapping, created_at, submission_id) VALUES (?, ?, ?, 'reviewer', 1, ?, NULL, ?, ?, ?, ?)",
                (
                    task_id,
                    task.queue_id,
                    reviewer,
                    json.dumps(value, ensure_ascii=False, sort_keys=True),
                    queue.spec["guideline_version"],
                    _side_json([0, 1] if queue.kind == "pairwise" else None),
                    now,
                    submission_id,
                ),
            )
        return Submission(_inserted_id(cur), created=True)

    # -- interactive chats: one row per turn, its label appended when submitted ------------------------

    def add_turn(
        self,
        task_id: int,
        annotator: str,
        turn: int,
        context: list[dict],
        candidates: list[dict],
        sides: list[int],
        seed: int,
        seconds: float,
        *,
        now: float | None = None,
    ) -> dict:
        """Store a turn's two candidates as they arrived (before any label), so a reload shows the same
        ones; a turn already stored is returned as it is (a second request for it changes nothing)."""
        now = time.time() if now is None else now
        with self._write() as con:
            row = con.execute(
                "SELECT state FROM assignments WHERE task_id = ? AND annotator = ?", (task_id, annotator)
            ).fetchone()
            if row is None or row["state"] not in ("open", "expired"):
                raise StoreError(f"item {task_id} is not an open chat of {annotator}")
            task = self.task(task_id)
            con.execute(
                "INSERT OR IGNORE INTO turns (task_id, queue_id, annotator, turn, context, candidates, sides, seed, "
                "seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    task.queue_id,
                    annotator,
                    turn,
                    json.dumps(context, ensure_ascii=False),
                    json.dumps(candidates, ensure_ascii=False, sort_keys=True),
                    json.dumps(sides),
                    seed,
                    seconds,
                    now,
                ),
            )
        return next(t for t in self.turns(task_id=task_id, annotator=annotator) if t["turn"] == turn)

    def label_turn(
        self,
        turn_id: int,
        annotator: str,
        raw_value: dict,
        *,
        seconds: float | None = None,
        submission_id: str | None = None,
        now: float | None = None,
    ) -> Submission:
        """Append the label of one turn (once: a repeat returns the label already stored)."""
        now = time.time() if now is None else now
        submission_id = submission_id or uuid.uuid4().hex
        row = self.con.execute("SELECT * FROM turns WHERE turn_id = ?", (turn_id,)).fetchone()
        if row is None or row["annotator"] != annotator:
            raise StoreError(f"turn {turn_id} is not a turn of {annotator}")
        queue = self.queue(row["queue_id"])
        value = values.interactive_turn(
            raw_value, json.loads(row["sides"]), queue.spec["questions"], queue.spec["continuation"], row["seed"] & 1
        )
        with self._write() as con:
            if con.execute("SELECT 1 FROM turn_labels WHERE turn_id = ?", (turn_id,)).fetchone():
                return Submission(turn_id, created=False)
            con.execute(
                "INSERT INTO turn_labels (turn_id, value, seconds, guideline_version, created_at, submission_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    turn_id,
                    json.dumps(value, ensure_ascii=False, sort_keys=True),
                    seconds,
                    queue.spec["guideline_version"],
                    now,
                    submission_id,
                ),
            )
        return Submission(turn_id, created=True)

    def turns(
        self, queue_id: int | None = None, *, task_id: int | None = None, annotator: str | None = None
    ) -> list[dict]:
        """Turns of a queue, or of one chat (a task and an annotator), with their labels (None while
        unlabeled); in order of (task, annotator, turn)."""
        where, args = [], []
        for column, given in (("t.queue_id", queue_id), ("t.task_id", task_id), ("t.annotator", annotator)):
            if given is not None:
                where.append(f"{column} = ?")
                args.append(given)
        rows = self.con.execute(
            "SELECT t.*, l.value AS label, l.seconds AS label_seconds, l.created_at AS labeled_at, "
            "l.guideline_version FROM turns t LEFT JOIN turn_labels l USING (turn_id) "
            f"WHERE {' AND '.join(where) or '1'} ORDER BY t.task_id, t.annotator, t.turn",
            args,
        ).fetchall()
        out = []
        for row in rows:
            data = dict(row)
            for key in ("context", "candidates", "sides", "label"):
                data[key] = json.loads(data[key]) if data[key] is not None else None
            out.append(data)
        return out

    # -- reads for progress, review and snapshots -------------------------------------------------------

    def count_labels(self, queue_id: int, annotator: str) -> int:
        return self.con.execute(
            f"SELECT count(*) FROM labels WHERE annotator = ? AND queue_id = ? AND is_adjudication = 0 AND {LIVE}",
            (annotator, queue_id),
        ).fetchone()[0]

    def labels(
        self,
        queue_id: int | None = None,
        task_id: int | None = None,
        *,
        include_retracted: bool = False,
        gold: bool = False,
    ) -> list[dict]:
        """Labels (annotations and adjudications) of a queue, of one of its items, or all; oldest first.

        Undone labels are left out unless asked for, and so are labels on gold items unless `gold`
        (then only those, each with the item's known answer): consensus, review and snapshots never see
        either.
        """
        args: tuple[int, ...]
        if task_id is not None:
            task = self.task(task_id)
            where, args = "WHERE queue_id = ? AND task_id = ?", (task.queue_id, task_id)
        elif queue_id is not None:
            where, args = "WHERE queue_id = ?", (queue_id,)
        else:
            where, args = "WHERE 1", ()
        if not include_retracted:
            where += f" AND {LIVE}"
        where += f" AND task_id {'IN' if gold else 'NOT IN'} (SELECT task_id FROM tasks WHERE gold IS NOT NULL)"
        columns = "labels.*, (SELECT gold FROM tasks t WHERE t.task_id = labels.task_id) AS gold" if gold else "*"
        rows = self.con.execute(f"SELECT {columns} FROM labels {where} ORDER BY label_id", args).fetchall()
        out = []
        for row in rows:
            data = dict(row)
            data["value"] = json.loads(data["value"])
            data["side_mapping"] = json.loads(data["side_mapping"]) if data["side_mapping"] else None
            data["is_adjudication"] = bool(data["is_adjudication"])
            if gold:
                data["gold"] = json.loads(data["gold"])
            out.append(data)
        return out

    def tasks(self, queue_id: int | None = None) -> Iterator[Task]:
        """The queue's (or every) task, gold items left out."""
        where, args = (
            ("WHERE queue_id = ? AND gold IS NULL", (queue_id,)) if queue_id is not None else ("WHERE gold IS NULL", ())
        )
        for row in self.con.execute(f"SELECT * FROM tasks {where} ORDER BY task_id", args):
            yield self._task(row)

    def task_created_at(self) -> dict[int, float]:
        return dict(self.con.execute("SELECT task_id, created_at FROM tasks").fetchall())

    def annotator_progress(self) -> list[dict]:
        """Per annotator and queue: labels, skips, open items and seconds per label."""
        rows = self.con.execute("""
            SELECT a.annotator, q.name AS queue, a.queue_id,
                   sum(a.state = 'done') AS labels, sum(a.state = 'skipped') AS skipped,
                   sum(a.state = 'open') AS open, sum(a.state = 'expired') AS expired,
                   (SELECT avg(l.seconds) FROM labels l WHERE l.annotator = a.annotator AND l.queue_id = a.queue_id
                      AND l.is_adjudication = 0 AND l.label_id NOT IN (SELECT label_id FROM retractions))
                      AS mean_seconds
            FROM assignments a JOIN queues q USING (queue_id)
            GROUP BY a.annotator, a.queue_id ORDER BY a.annotator, a.queue_id""").fetchall()
        return [dict(r) for r in rows]

    def skips(self, queue_id: int) -> list[dict]:
        rows = self.con.execute(
            "SELECT task_id, annotator, skip_reason, finished_at FROM assignments "
            "WHERE queue_id = ? AND state = 'skipped' ORDER BY finished_at",
            (queue_id,),
        )
        return [dict(r) for r in rows]

    # -- erasure ----------------------------------------------------------------------------------------

    def find_tasks(self, matches: Callable[[str, dict], bool]) -> list[int]:
        """Ids of the tasks whose (item_key, payload) `matches` accepts: erasure looks for a user's samples."""
        rows = self.con.execute("SELECT task_id, item_key, payload FROM tasks ORDER BY task_id").fetchall()
        return [row["task_id"] for row in rows if matches(row["item_key"], json.loads(row["payload"]))]

    def erase_tasks(self, task_ids: Iterable[int]) -> dict[str, int]:
        """Delete tasks with their assignments and labels, and recount their queues.

        A user's right to erasure is the one exception to append-only labels: the trigger that refuses
        deletes is dropped and recreated inside the same transaction. `secure_delete` overwrites the freed
        content with zeros and a truncating checkpoint empties the WAL, so the text leaves the file instead
        of lingering in free pages (`wal_checkpointed` is 0 when a reader kept the WAL busy; the next
        checkpoint finishes the job).
        """
        ids = [(i,) for i in sorted(set(task_ids))]
        counts = {"tasks": 0, "labels": 0, "assignments": 0, "wal_checkpointed": 1}
        if not ids:
            return counts
        self.con.execute("PRAGMA secure_delete = ON")
        with self._write() as con:
            queues = {
                row[0]
                for i in ids
                if (row := con.execute("SELECT queue_id FROM tasks WHERE task_id = ?", i).fetchone())
            }
            con.execute("DROP TRIGGER IF EXISTS labels_no_delete")
            con.execute("DROP TRIGGER IF EXISTS turn_labels_no_delete")
            con.executemany(
                "DELETE FROM retractions WHERE label_id IN (SELECT label_id FROM labels WHERE task_id = ?)", ids
            )
            con.executemany(
                "DELETE FROM turn_labels WHERE turn_id IN (SELECT turn_id FROM turns WHERE task_id = ?)", ids
            )
            con.executemany("DELETE FROM turns WHERE task_id = ?", ids)
            for table in ("labels", "assignments", "tasks"):
                before = con.total_changes
                con.executemany(f"DELETE FROM {table} WHERE task_id = ?", ids)
                counts[table] = con.total_changes - before
            con.execute(LABELS_NO_DELETE)
            con.execute(TURN_LABELS_NO_DELETE)
            con.executemany(RECOUNT_QUEUE, [(q,) for q in sorted(queues)])
        counts["wal_checkpointed"] = self._checkpoint()
        return counts

    def redact_queue_sources(self, redact: Callable[[str], str]) -> int:
        """Pass every queue's source (SQL that may name a user or a conversation) through `redact`;
        returns how many changed."""
        rows = self.con.execute("SELECT queue_id, source FROM queues").fetchall()
        changed = [(new, row[0]) for row in rows if (new := redact(row[1])) != row[1]]
        if changed:
            self.con.execute("PRAGMA secure_delete = ON")
            with self._write() as con:
                con.executemany("UPDATE queues SET source = ? WHERE queue_id = ?", changed)
            self._checkpoint()
        return len(changed)

    def _checkpoint(self) -> int:
        """Copy the WAL into the file and truncate it (1), or 0 when a reader kept it busy."""
        busy = self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return 0 if busy else 1


LIVE = "label_id NOT IN (SELECT label_id FROM retractions)"
LABELS_NO_DELETE = (
    "CREATE TRIGGER IF NOT EXISTS labels_no_delete BEFORE DELETE ON labels "
    "BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END"
)
TURN_LABELS_NO_DELETE = (
    "CREATE TRIGGER IF NOT EXISTS turn_labels_no_delete BEFORE DELETE ON turn_labels "
    "BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END"
)
RECOUNT_QUEUE = """UPDATE queues SET
    n_tasks = (SELECT count(*) FROM tasks t WHERE t.queue_id = queues.queue_id AND t.gold IS NULL),
    n_labels = (SELECT count(*) FROM labels l WHERE l.queue_id = queues.queue_id AND l.is_adjudication = 0
                AND l.label_id NOT IN (SELECT label_id FROM retractions)
                AND l.task_id NOT IN (SELECT task_id FROM tasks WHERE gold IS NOT NULL)),
    n_complete = (SELECT count(*) FROM tasks t WHERE t.queue_id = queues.queue_id AND t.gold IS NULL
                  AND t.n_labels >= t.per_item)
WHERE queue_id = ?"""


def _side_json(sides: list[int] | None) -> str | None:
    return json.dumps({"A": sides[0], "B": sides[1]}) if sides else None
