"""The node's registry: received instances, computation state, results, per-patient cumulative
dose, alerts and the forward queue.

:class:`Registry` is the small interface the rest of the node uses; :class:`SQLiteRegistry`
implements it on SQLite (standard library) in WAL mode with ``synchronous=FULL``, so that a
committed row survives a crash or power loss and readers never block the writer. A server
database could implement the same methods later; no ORM.

Restart safety: every state change is one transaction. After ``kill -9`` at any moment, the
next start calls :meth:`Registry.release_claims`: instances left ``computing`` go back to
``queued`` (their result was never committed, so each acknowledged instance ends with exactly
one committed result), patients left claimed are marked for recomputation.

States of an instance: ``queued`` → ``computing`` → ``done`` | ``not_applicable`` (stored, but
holds no projection X-ray dose content, e.g. a CT dose SR) | ``failed`` (an unexpected error
after :data:`MAX_ATTEMPTS` tries; kept with its error text).
"""

from __future__ import annotations

import abc
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skindose.node.storage import FILE_MODE, make_dirs

__all__ = ["MAX_ATTEMPTS", "SCHEMA_VERSION", "Registry", "SQLiteRegistry", "open_registry"]

SCHEMA_VERSION = 1
#: Attempts before an instance whose computation raised an unexpected error is marked failed.
MAX_ATTEMPTS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    id INTEGER PRIMARY KEY,
    sop_instance_uid TEXT NOT NULL UNIQUE,
    sop_class_uid TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    calling_aet TEXT,
    peer TEXT,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'computing', 'done', 'not_applicable', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by INTEGER,
    claimed_at REAL,
    error TEXT,
    patient_key TEXT,
    patient_id TEXT,
    patient_name TEXT,
    study_uid TEXT,
    procedure_date TEXT,
    device TEXT
);
CREATE INDEX IF NOT EXISTS instances_state ON instances (state);
CREATE INDEX IF NOT EXISTS instances_patient ON instances (patient_key);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL UNIQUE REFERENCES instances (id),
    psd_gy REAL,
    psd_1cm2_gy REAL,
    psd_location TEXT,
    areas_above_m2 TEXT,
    is_reference_point_estimate INTEGER NOT NULL,
    n_events INTEGER,
    highest_severity TEXT,
    notes TEXT,
    report_dir TEXT,
    compute_s REAL,
    computed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS patients (
    patient_key TEXT PRIMARY KEY,
    dirty_gen INTEGER NOT NULL DEFAULT 0,
    done_gen INTEGER NOT NULL DEFAULT 0,
    claimed_by INTEGER,
    claimed_gen INTEGER
);
CREATE TABLE IF NOT EXISTS cumulative (
    id INTEGER PRIMARY KEY,
    patient_key TEXT NOT NULL,
    anchor_instance_id INTEGER NOT NULL UNIQUE REFERENCES instances (id),
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    contributing TEXT NOT NULL,
    psd_gy REAL,
    psd_location TEXT,
    notes TEXT,
    report_dir TEXT,
    computed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cumulative_patient ON cumulative (patient_key);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    patient_key TEXT NOT NULL,
    level_gy REAL NOT NULL,
    kind TEXT NOT NULL,
    psd_gy REAL NOT NULL,
    anchor_instance_id INTEGER,
    payload TEXT NOT NULL,
    raised_at REAL NOT NULL,
    delivered_at REAL,
    delivery_error TEXT,
    UNIQUE (patient_key, level_gy)
);
CREATE TABLE IF NOT EXISTS forwards (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    peer TEXT NOT NULL,
    files TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at REAL,
    UNIQUE (instance_id, peer)
);
CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY CHECK (id = 1), counter INTEGER);
INSERT OR IGNORE INTO changes (id, counter) VALUES (1, 0);
"""


def _j(v: Any) -> str:
    from skindose.jsonsafe import jsonable

    return json.dumps(jsonable(v), allow_nan=False, sort_keys=True)


def _u(s: str | None) -> Any:
    return None if s is None else json.loads(s)


class Registry(abc.ABC):
    """What the node needs from its storage (one implementation: :class:`SQLiteRegistry`).

    All methods are safe to call from several threads and processes at once.
    """

    # --- receiving (network threads)
    @abc.abstractmethod
    def has_instance(self, sop_instance_uid: str) -> bool:
        """True when the instance is already stored."""

    @abc.abstractmethod
    def add_instance(self, *, sop_instance_uid: str, sop_class_uid: str, path: str,
                     sha256: str, size_bytes: int, calling_aet: str | None,
                     peer: str | None, received_at: float) -> bool:
        """Record a durably written instance as ``queued``; False when it already existed."""

    # --- workers
    @abc.abstractmethod
    def release_claims(self) -> int:
        """At start-up: put work claimed by a previous (killed) run back in the queue."""

    @abc.abstractmethod
    def claim_instance(self, worker: int) -> dict[str, Any] | None:
        """Claim the oldest queued instance (state → computing), or None."""

    @abc.abstractmethod
    def finish_instance(self, instance_id: int, worker: int, *, state: str,
                        identity: dict[str, Any] | None, result: dict[str, Any] | None,
                        error: str | None, forwards: Sequence[tuple[str, list[str]]] = ()
                        ) -> bool:
        """Commit an instance's outcome, its result row and forward-queue rows in one
        transaction and mark its patient for the cumulative stage. False (nothing written)
        when the claim was lost (another run released it)."""

    @abc.abstractmethod
    def retry_or_fail(self, instance_id: int, worker: int, error: str) -> str:
        """After an unexpected error: back to ``queued`` or, after MAX_ATTEMPTS, ``failed``."""

    @abc.abstractmethod
    def claim_patient(self, worker: int) -> tuple[str, int] | None:
        """Claim a patient whose cumulative dose must be recomputed: (key, generation)."""

    @abc.abstractmethod
    def patient_procedures(self, patient_key: str) -> list[dict[str, Any]]:
        """The patient's computed procedures with their results, ordered by date."""

    @abc.abstractmethod
    def cumulative_for(self, patient_key: str) -> list[dict[str, Any]]:
        """The patient's stored cumulative windows."""

    @abc.abstractmethod
    def finish_patient(self, patient_key: str, worker: int, gen: int,
                       windows: Sequence[dict[str, Any]], alerts: Sequence[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        """Replace the patient's changed windows and insert alerts (once per patient and
        level); returns the alerts that were new."""

    # --- alerts and forwarding
    @abc.abstractmethod
    def undelivered_alerts(self) -> list[dict[str, Any]]:
        """Alerts raised but not yet delivered."""

    @abc.abstractmethod
    def mark_alert_delivered(self, alert_id: int, error: str | None) -> None:
        """Record a delivery (with the error text of any channel that failed)."""

    @abc.abstractmethod
    def due_forwards(self, now: float) -> list[dict[str, Any]]:
        """Forwards pending or failed whose retry time has come."""

    @abc.abstractmethod
    def mark_forward(self, forward_id: int, *, ok: bool, error: str | None,
                     next_attempt_at: float | None) -> None:
        """Record a forward attempt."""

    # --- reading
    @abc.abstractmethod
    def overview(self) -> list[dict[str, Any]]:
        """One row per patient: procedures, PSDs, cumulative PSD, alerts."""

    @abc.abstractmethod
    def instance(self, key: str) -> dict[str, Any] | None:
        """One instance (by id or SOP Instance UID) with its result and cumulative."""

    @abc.abstractmethod
    def instances(self) -> list[dict[str, Any]]:
        """Every instance with its state and result (for scripts and the page)."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Instances per state, results, alerts, forwards per state, dirty patients."""

    @abc.abstractmethod
    def change_counter(self) -> int:
        """Grows at every committed change that the page shows."""

    @abc.abstractmethod
    def integrity_check(self) -> str:
        """The database's own consistency check ("ok" when sound)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close this thread's connection."""


class SQLiteRegistry(Registry):
    """:class:`Registry` on an SQLite file (WAL mode, ``synchronous=FULL``).

    Parameters
    ----------
    path
        The database file (created with mode 0600 when missing).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        make_dirs(self.path.parent)
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
            os.close(fd)
        self._local = threading.local()
        con = self._con()
        with con:
            con.executescript(_SCHEMA)
            con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),))

    # --- connections ------------------------------------------------------------------------
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None,
                                  check_same_thread=True)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA busy_timeout=60000")
            self._local.con = con
            self._local.pid = os.getpid()
        return con

    def _tx(self):
        return _Tx(self._con())

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @staticmethod
    def _bump(con: sqlite3.Connection) -> None:
        con.execute("UPDATE changes SET counter = counter + 1 WHERE id = 1")

    # --- receiving --------------------------------------------------------------------------
    def has_instance(self, sop_instance_uid: str) -> bool:
        row = self._con().execute("SELECT 1 FROM instances WHERE sop_instance_uid = ?",
                                  (sop_instance_uid,)).fetchone()
        return row is not None

    def add_instance(self, *, sop_instance_uid, sop_class_uid, path, sha256, size_bytes,
                     calling_aet, peer, received_at) -> bool:
        with self._tx() as con:
            cur = con.execute(
                "INSERT OR IGNORE INTO instances (sop_instance_uid, sop_class_uid, path, sha256,"
                " size_bytes, calling_aet, peer, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sop_instance_uid, sop_class_uid, path, sha256, size_bytes, calling_aet, peer,
                 received_at))
            if cur.rowcount:
                self._bump(con)
            return cur.rowcount == 1

    # --- workers ----------------------------------------------------------------------------
    def release_claims(self) -> int:
        with self._tx() as con:
            n = con.execute("UPDATE instances SET state = 'queued', claimed_by = NULL, "
                            "claimed_at = NULL WHERE state = 'computing'").rowcount
            n += con.execute("UPDATE patients SET claimed_by = NULL, claimed_gen = NULL, "
                             "dirty_gen = dirty_gen + 1 WHERE claimed_by IS NOT NULL").rowcount
            return n

    def claim_instance(self, worker: int) -> dict[str, Any] | None:
        with self._tx() as con:
            row = con.execute(
                "UPDATE instances SET state = 'computing', claimed_by = ?, claimed_at = ?, "
                "attempts = attempts + 1 WHERE id = (SELECT id FROM instances WHERE state = "
                "'queued' ORDER BY id LIMIT 1) RETURNING *", (worker, time.time())).fetchone()
            return dict(row) if row is not None else None

    def finish_instance(self, instance_id, worker, *, state, identity, result, error,
                        forwards=()) -> bool:
        ident = identity or {}
        with self._tx() as con:
            cur = con.execute(
                "UPDATE instances SET state = ?, error = ?, claimed_by = NULL, patient_key = ?,"
                " patient_id = ?, patient_name = ?, study_uid = ?, procedure_date = ?, "
                "device = ? WHERE id = ? AND state = 'computing' AND claimed_by = ?",
                (state, error, ident.get("patient_key"), ident.get("patient_id"),
                 ident.get("patient_name"), ident.get("study_uid"), ident.get("procedure_date"),
                 ident.get("device"), instance_id, worker))
            if cur.rowcount != 1:
                return False
            if result is not None:
                con.execute(
                    "INSERT INTO results (instance_id, psd_gy, psd_1cm2_gy, psd_location, "
                    "areas_above_m2, is_reference_point_estimate, n_events, highest_severity, "
                    "notes, report_dir, compute_s, computed_at) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (instance_id, result.get("psd_gy"), result.get("psd_1cm2_gy"),
                     _j(result.get("psd_location")), _j(result.get("areas_above_m2")),
                     int(bool(result.get("is_reference_point_estimate"))),
                     result.get("n_events"), result.get("highest_severity"),
                     _j(result.get("notes", [])), result.get("report_dir"),
                     result.get("compute_s"), time.time()))
                key = ident.get("patient_key")
                if key:
                    con.execute("INSERT INTO patients (patient_key, dirty_gen) VALUES (?, 1) "
                                "ON CONFLICT (patient_key) DO UPDATE SET dirty_gen = "
                                "dirty_gen + 1", (key,))
            for peer, files in forwards:
                con.execute("INSERT OR IGNORE INTO forwards (instance_id, peer, files) "
                            "VALUES (?, ?, ?)", (instance_id, peer, json.dumps(files)))
            self._bump(con)
            return True

    def retry_or_fail(self, instance_id, worker, error) -> str:
        with self._tx() as con:
            row = con.execute("SELECT attempts FROM instances WHERE id = ? AND claimed_by = ? "
                              "AND state = 'computing'", (instance_id, worker)).fetchone()
            if row is None:
                return "lost"
            state = "failed" if row["attempts"] >= MAX_ATTEMPTS else "queued"
            con.execute("UPDATE instances SET state = ?, error = ?, claimed_by = NULL "
                        "WHERE id = ?", (state, error, instance_id))
            self._bump(con)
            return state

    def claim_patient(self, worker):
        with self._tx() as con:
            row = con.execute(
                "UPDATE patients SET claimed_by = ?, claimed_gen = dirty_gen WHERE patient_key ="
                " (SELECT patient_key FROM patients WHERE dirty_gen > done_gen AND claimed_by "
                "IS NULL LIMIT 1) RETURNING patient_key, claimed_gen", (worker,)).fetchone()
            return (row["patient_key"], int(row["claimed_gen"])) if row is not None else None

    def patient_procedures(self, patient_key):
        rows = self._con().execute(
            "SELECT i.id, i.sop_instance_uid, i.path, i.procedure_date, i.study_uid, "
            "r.psd_gy, r.report_dir, r.is_reference_point_estimate FROM instances i JOIN "
            "results r ON r.instance_id = i.id WHERE i.patient_key = ? AND i.state = 'done' "
            "ORDER BY i.procedure_date, i.id", (patient_key,)).fetchall()
        return [dict(r) for r in rows]

    def cumulative_for(self, patient_key):
        rows = self._con().execute("SELECT * FROM cumulative WHERE patient_key = ? ORDER BY "
                                   "window_end, anchor_instance_id", (patient_key,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["contributing"] = _u(d["contributing"])
            d["psd_location"] = _u(d["psd_location"])
            d["notes"] = _u(d["notes"])
            out.append(d)
        return out

    def finish_patient(self, patient_key, worker, gen, windows, alerts):
        new: list[dict[str, Any]] = []
        with self._tx() as con:
            row = con.execute("SELECT claimed_by, claimed_gen FROM patients WHERE patient_key ="
                              " ?", (patient_key,)).fetchone()
            if row is None or row["claimed_by"] != worker or row["claimed_gen"] != gen:
                return []
            for w in windows:
                con.execute(
                    "INSERT INTO cumulative (patient_key, anchor_instance_id, window_start, "
                    "window_end, contributing, psd_gy, psd_location, notes, report_dir, "
                    "computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                    "(anchor_instance_id) DO UPDATE SET window_start = excluded.window_start, "
                    "window_end = excluded.window_end, contributing = excluded.contributing, "
                    "psd_gy = excluded.psd_gy, psd_location = excluded.psd_location, notes = "
                    "excluded.notes, report_dir = excluded.report_dir, computed_at = "
                    "excluded.computed_at",
                    (patient_key, w["anchor_instance_id"], w["window_start"], w["window_end"],
                     _j(w["contributing"]), w["psd_gy"], _j(w.get("psd_location")),
                     _j(w.get("notes", [])), w.get("report_dir"), time.time()))
            for a in alerts:
                cur = con.execute(
                    "INSERT OR IGNORE INTO alerts (patient_key, level_gy, kind, psd_gy, "
                    "anchor_instance_id, payload, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING *",
                    (patient_key, float(a["level_gy"]), a["kind"], float(a["psd_gy"]),
                     a.get("anchor_instance_id"), _j(a), time.time()))
                got = cur.fetchone()
                if got is not None:
                    d = dict(got)
                    d["payload"] = _u(d["payload"])
                    new.append(d)
            con.execute("UPDATE patients SET done_gen = ?, claimed_by = NULL, claimed_gen = NULL"
                        " WHERE patient_key = ?", (gen, patient_key))
            self._bump(con)
        return new

    # --- alerts and forwarding --------------------------------------------------------------
    def undelivered_alerts(self):
        rows = self._con().execute("SELECT * FROM alerts WHERE delivered_at IS NULL ORDER BY "
                                   "id").fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["payload"] = _u(d["payload"])
            out.append(d)
        return out

    def mark_alert_delivered(self, alert_id, error):
        with self._tx() as con:
            con.execute("UPDATE alerts SET delivered_at = ?, delivery_error = ? WHERE id = ? "
                        "AND delivered_at IS NULL", (time.time(), error, alert_id))
            self._bump(con)

    def due_forwards(self, now):
        rows = self._con().execute(
            "SELECT * FROM forwards WHERE state != 'sent' AND next_attempt_at <= ? ORDER BY id",
            (now,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["files"] = _u(d["files"])
            out.append(d)
        return out

    def mark_forward(self, forward_id, *, ok, error, next_attempt_at):
        with self._tx() as con:
            if ok:
                con.execute("UPDATE forwards SET state = 'sent', sent_at = ?, attempts = "
                            "attempts + 1, last_error = NULL WHERE id = ?",
                            (time.time(), forward_id))
            else:
                con.execute("UPDATE forwards SET state = 'failed', attempts = attempts + 1, "
                            "last_error = ?, next_attempt_at = ? WHERE id = ?",
                            (error, next_attempt_at or 0.0, forward_id))
            self._bump(con)

    # --- reading ----------------------------------------------------------------------------
    def instances(self):
        rows = self._con().execute(
            "SELECT i.*, r.psd_gy, r.psd_1cm2_gy, r.psd_location, r.areas_above_m2, "
            "r.is_reference_point_estimate, r.n_events, r.highest_severity, r.notes, "
            "r.report_dir, r.compute_s, r.computed_at, c.psd_gy AS cumulative_psd_gy, "
            "c.contributing AS cumulative_contributing, c.window_start AS cumulative_start, "
            "c.report_dir AS cumulative_report_dir FROM instances i "
            "LEFT JOIN results r ON r.instance_id = i.id "
            "LEFT JOIN cumulative c ON c.anchor_instance_id = i.id ORDER BY i.id").fetchall()
        out = []
        for r in rows:
            d = dict(r)
            for k in ("psd_location", "areas_above_m2", "notes", "cumulative_contributing"):
                d[k] = _u(d[k])
            out.append(d)
        return out

    def instance(self, key):
        rows = self.instances()
        for d in rows:
            if str(d["id"]) == str(key) or d["sop_instance_uid"] == key:
                con = self._con()
                d["forwards"] = [dict(r) for r in con.execute(
                    "SELECT peer, state, attempts, last_error, sent_at FROM forwards WHERE "
                    "instance_id = ?", (d["id"],)).fetchall()]
                return d
        return None

    def overview(self):
        con = self._con()
        alerts: dict[str, list[dict[str, Any]]] = {}
        for r in con.execute("SELECT patient_key, level_gy, kind, psd_gy, raised_at, "
                             "delivered_at FROM alerts ORDER BY level_gy").fetchall():
            alerts.setdefault(r["patient_key"], []).append(dict(r))
        patients: dict[str, dict[str, Any]] = {}
        for d in self.instances():
            key = d["patient_key"] or "(not yet read)"
            p = patients.setdefault(key, {
                "patient_key": key, "patient_id": d["patient_id"],
                "patient_name": d["patient_name"], "procedures": [], "max_psd_gy": None,
                "max_cumulative_psd_gy": None, "alerts": alerts.get(key, [])})
            p["procedures"].append(d)
            for field, src in (("max_psd_gy", "psd_gy"),
                               ("max_cumulative_psd_gy", "cumulative_psd_gy")):
                v = d.get(src)
                if v is not None and (p[field] is None or v > p[field]):
                    p[field] = v
        return list(patients.values())

    def counts(self):
        con = self._con()
        out: dict[str, int] = {}
        for r in con.execute("SELECT state, COUNT(*) AS n FROM instances GROUP BY state"):
            out[f"instances_{r['state']}"] = int(r["n"])
        out["instances"] = sum(v for k, v in out.items() if k.startswith("instances_"))
        out["results"] = int(con.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        out["alerts"] = int(con.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
        out["alerts_undelivered"] = int(con.execute(
            "SELECT COUNT(*) FROM alerts WHERE delivered_at IS NULL").fetchone()[0])
        for r in con.execute("SELECT state, COUNT(*) AS n FROM forwards GROUP BY state"):
            out[f"forwards_{r['state']}"] = int(r["n"])
        out["patients_dirty"] = int(con.execute(
            "SELECT COUNT(*) FROM patients WHERE dirty_gen > done_gen").fetchone()[0])
        return out

    def change_counter(self) -> int:
        return int(self._con().execute("SELECT counter FROM changes WHERE id = 1").fetchone()[0])

    def integrity_check(self) -> str:
        rows = self._con().execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): one writer at a time, no
    deadlock between a reader that wants to upgrade and another writer."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.con.execute("COMMIT")
        else:
            self.con.execute("ROLLBACK")


def open_registry(data_dir: str | os.PathLike[str]) -> SQLiteRegistry:
    """The registry of a data directory (``DIR/registry.sqlite``)."""
    return SQLiteRegistry(Path(data_dir) / "registry.sqlite")
