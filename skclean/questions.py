"""Questions, answers and the journal: how every cleaner asks its oracle.

Cleaners decide *what* to ask; this module owns *how* a question is asked
and remembered, in one place:

* each queried row carries its user-facing **row id** (the DataFrame index,
  or the position in the ``X`` the user passed), sent to the oracle in the
  context as ``row_ids``;
* the answer is **validated** before the cleaner touches any state
  (:func:`check_answer`): a fault raises :class:`OracleError` naming what was
  wrong, and the cleaner rolls back (:func:`transaction`);
* every valid answer is **journaled** the moment it is given
  (:class:`Journal`, in memory or in an SQLite file), and a question about a
  row the journal already knows is answered from it, so a resumed run does
  not ask a person twice;
* each answer becomes a **record** behind ``cleaning_report()``.

An oracle may answer :data:`SKIP` for a row (no judgement: the row stays as
it is, not marked cleaned), and may raise :class:`OracleStop` to end the
cleaning cleanly (e.g. end of input at a terminal), keeping the answers it
gave before the stop.
"""

import copy
import hashlib
import json
import sqlite3
import time
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _num_samples

__all__ = [
    "SKIP",
    "Journal",
    "JournalConflict",
    "OracleError",
    "OracleStop",
    "Questioner",
    "check_answer",
    "majority_vote",
    "query_oracle",
    "transaction",
]


class _Skip:
    """The answer "no judgement" for one row (see :data:`SKIP`)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "SKIP"

    def __reduce__(self):  # pickles (and deep-copies) to the same singleton
        return (_Skip, ())


#: An oracle's answer for a row it does not judge: the row keeps its label
#: and is not marked cleaned or verified.
SKIP = _Skip()


class OracleError(RuntimeError):
    """The oracle failed or gave an answer that cannot be applied."""


class OracleStop(Exception):  # noqa: N818 - a signal, like StopIteration
    """Raised by an oracle to stop the cleaning cleanly.

    Parameters
    ----------
    message : str
        Why it stopped (shown to the user by the oracle itself).
    answers : array-like or None
        Answers to the rows of the interrupted question given before the stop
        (:data:`SKIP` for the rest); ``None`` when none were given.
    """

    def __init__(self, message="", answers=None):
        super().__init__(message)
        self.answers = answers


def _is_skip(a):
    return a is SKIP


def check_answer(answer, n, classes, *, who="The oracle"):
    """Validate an oracle's answer to ``n`` rows.

    Returns
    -------
    labels : ndarray of shape (n,), dtype of ``classes``
        The answered labels (skipped rows hold ``classes[0]``; use ``skipped``).
    skipped : ndarray of bool, shape (n,)

    Raises
    ------
    OracleError
        If the answer is ``None``, not array-like, of the wrong length, or
        holds a label outside ``classes``.
    """
    classes = np.asarray(classes)
    if answer is None:
        raise OracleError(f"{who} returned None; it must return one label per queried row "
                          f"({n}), or SKIP for a row it does not judge.")
    try:
        arr = np.asarray(answer, dtype=object)
    except Exception as exc:  # pragma: no cover - np.asarray(object) rarely fails
        raise OracleError(f"{who}'s answer is not array-like: {exc}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.shape != (n,):
        raise OracleError(f"{who} must return one label per queried row: expected {n}, "
                          f"got an answer of shape {arr.shape}.")
    skipped = np.fromiter((_is_skip(a) for a in arr), dtype=bool, count=n)
    given = arr[~skipped]
    known = np.zeros(len(given), dtype=bool)
    for i, a in enumerate(given):
        try:
            known[i] = bool(np.any(classes == a)) and a is not None
        except Exception:
            known[i] = False
    if not known.all():
        bad = list(dict.fromkeys(repr(a) if not isinstance(a, str | int | float) else a
                                 for a in given[~known]))
        raise OracleError(f"{who} answered unknown label(s) {bad}; "
                          f"known classes are {classes.tolist()}.")
    labels = np.full(n, classes[0], dtype=classes.dtype)
    if len(given):
        # map through the classes themselves: no truncation of strings, no float ints
        idx = [int(np.flatnonzero(classes == a)[0]) for a in given]
        labels[~skipped] = classes[idx]
    return labels, skipped


def majority_vote(votes, *, current=None, tie_break="first", random_state=None):
    """The label most ``votes`` name; :data:`SKIP` and ``None`` are abstentions.

    Parameters
    ----------
    votes : sequence of labels
        In voting order.
    current : label, default=None
        The row's current label, for ``tie_break="keep"``.
    tie_break : {"first", "keep", "random"}, default="first"
        On a tie: the tied label voted first, ``current`` if it is among the
        tied ones (else the first), or a random tied one.
    random_state : RandomState, default=None
        Draws the ``"random"`` tie-break.

    Returns
    -------
    label, or :data:`SKIP` when nobody voted.
    """
    labels, counts = [], []
    for v in votes:
        if v is None or _is_skip(v):
            continue
        if v in labels:  # order of first appearance = voting order
            counts[labels.index(v)] += 1
        else:
            labels.append(v)
            counts.append(1)
    if not labels:
        return SKIP
    best = max(counts)
    tied = [lab for lab, c in zip(labels, counts, strict=True) if c == best]
    if len(tied) > 1 and tie_break == "keep" and current in tied:
        return current
    if len(tied) > 1 and tie_break == "random":
        return tied[random_state.randint(len(tied))]
    return tied[0]


def query_oracle(oracle, X, y, classes, **context):
    """Ask ``oracle`` about rows ``X`` with current labels ``y``; validate the answer.

    The one-shot form of :class:`Questioner` (no journal, no records): for
    scripts that call an oracle directly.  Skipped rows keep their label.

    Returns
    -------
    labels : ndarray of shape (len(X),)
    """
    classes = np.asarray(classes)
    try:
        answer = oracle(X, y, classes=classes, **context)
    except (KeyboardInterrupt, SystemExit, OracleStop):
        raise
    except Exception as exc:
        raise OracleError(f"The oracle raised {type(exc).__name__}: {exc}") from exc
    labels, skipped = check_answer(answer, len(y), classes)
    labels[skipped] = np.asarray(y)[skipped]
    return labels


# --------------------------------------------------------------------------- journal
def row_ids_of(X, n=None, row_ids=None):
    """The user's row ids: ``row_ids`` if given, a DataFrame's (or Series') index, else
    positions ``0..n-1``."""
    if row_ids is not None:
        ids = np.asarray(row_ids, dtype=object).ravel()
        rows = _num_samples(X)
        if len(ids) != rows:
            raise ValueError(f"row_ids has {len(ids)} ids for the {rows} rows of X.")
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("row_ids must name each row once: it has duplicates.")
        return ids
    index = getattr(X, "index", None)
    if index is not None and hasattr(X, "iloc"):  # pandas (or a look-alike)
        ids = np.asarray(index, dtype=object)
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("The DataFrame index identifies rows in the cleaning records "
                             "and the journal: it must be unique (use reset_index()).")
        return ids
    return np.arange(_num_samples(X) if n is None else n)


def row_fingerprint(row):
    """A short hash of a row's exact values (as float64; ``-0.0`` counts as ``0.0``).

    Exact, not rounded: two rows that differ anywhere, even in the last bit
    of an id near 10⁹, have different fingerprints.
    """
    if hasattr(row, "toarray"):  # a sparse row: the same fingerprint as its dense values
        row = row.toarray()
    data = np.ascontiguousarray(np.asarray(row, dtype=np.float64).ravel() + 0.0)
    return "x64:" + hashlib.sha1(data.tobytes()).hexdigest()[:16]


def numeric_rows(X):
    """``X`` as a float64 array (CSR, canonical, when sparse), or ``None`` when it holds
    text."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64, copy=True)
        X.sum_duplicates()  # canonical: sorted column indices, no repeats
        return X
    try:
        return np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def raw_row_fingerprints(X):
    """The fingerprint of each row as the user has it, for a model whose Pipeline transforms
    the rows before the cleaner sees them (refitted on more rows, its output changes).

    Rows of numbers hash as :func:`row_fingerprint` hashes them; rows holding text (a
    DataFrame with string columns, a list of texts) by their exact values.
    """
    numbers = numeric_rows(X)
    if numbers is not None and numbers.ndim >= 2:
        return [row_fingerprint(numbers[i]) for i in range(numbers.shape[0])]
    rows = (X.itertuples(index=False, name=None) if hasattr(X, "itertuples")
            else ((row,) for row in X))
    return ["obj:" + hashlib.sha1(json.dumps([_plain(v) for v in row], default=repr)
                                  .encode()).hexdigest()[:16] for row in rows]


class JournalConflict(ValueError):
    """The journal holds an answer for this row id, given for other values."""


class _ForeignFile(ValueError):
    """A database that is not an skclean journal."""


def _key(row_id):
    """A text key for a row id that keeps ``1`` and ``"1"`` apart."""
    if isinstance(row_id, np.generic):
        row_id = row_id.item()
    return f"{type(row_id).__name__}:{row_id}"


def _to_json(label):
    return json.dumps(label.item() if isinstance(label, np.generic) else label)


class Journal:
    """Every answer a person (or a simulated annotator) gave, by row id.

    Parameters
    ----------
    path : str, path-like or None
        An SQLite file: each answer is committed the moment it is given, so
        a crash or a closed terminal loses nothing, and a run started again
        with the same file and data reuses the answers instead of asking.
        ``None`` keeps the answers in memory (they survive an interrupted
        ``fit`` of the same estimator, not the process).  A file that is not
        an skclean journal is refused, never written to.

    Notes
    -----
    An answer belongs to the row it was given for: it is reused only for the
    same row id *and* the same values (a hash of the exact values), never
    for another row that looks the same.  The same id with other values
    means the rows or their ids changed since (another file, a subset whose
    ids are positions): :meth:`lookup` raises :class:`JournalConflict`
    rather than guess.  Give rows stable ids (a DataFrame index) to resume
    across subsets.
    """

    _COLUMNS = ("seq", "row_key", "row_id", "fingerprint", "role", "given", "suggested",
                "answer", "annotator", "time")
    _SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, row_key TEXT NOT NULL, row_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL, role TEXT, given TEXT, suggested TEXT, answer TEXT NOT NULL,
        annotator TEXT, time REAL NOT NULL)"""

    def __init__(self, path=None):
        self.path = None if path is None else str(path)
        if self.path == "":
            raise ValueError("journal='' names no file: pass a path, or None for a journal "
                             "in memory.")
        self._mem = {}
        self._conn = None
        if self.path is not None:
            self._open()

    def _open(self):
        import os

        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ValueError(f"journal={self.path!r}: the folder {folder} does not exist.")
        conn = None
        try:
            conn = sqlite3.connect(self.path)
            self._check_schema(conn)
            conn.execute(self._SCHEMA)
            conn.commit()
            for key, fp, ans in conn.execute(
                    "SELECT row_key, fingerprint, answer FROM answers ORDER BY seq"):
                ans = json.loads(ans)
                if ans is None:  # a retracted answer: the row is unanswered again
                    self._mem.pop(key, None)
                else:
                    self._mem[key] = (fp, ans)
        except (sqlite3.DatabaseError, json.JSONDecodeError, ValueError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, JournalConflict | _ForeignFile):
                raise ValueError(str(exc)) from None
            raise ValueError(f"journal={self.path!r} is not a readable skclean journal "
                             f"({type(exc).__name__}: {exc}).") from None
        self._conn = conn

    def _check_schema(self, conn):
        """Refuse a database of someone else's: never add tables to it."""
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")} - {"sqlite_sequence"}
        if not tables:
            return
        columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(answers)"))
        if tables != {"answers"} or columns != self._COLUMNS:
            raise _ForeignFile(
                f"journal={self.path!r} is an SQLite database, but not an skclean journal "
                f"(tables: {sorted(tables)}); it is left untouched. Name a new file.")

    def __len__(self):
        return len(self._mem)

    def lookup(self, row_id, fingerprint):
        """The journaled answer for this row (id and values), or ``None`` if there is none.

        Raises
        ------
        JournalConflict
            The journal answered for this row id, but for other values.
        """
        hit = self._mem.get(_key(row_id))
        if hit is None:
            return None
        if hit[0] != fingerprint:
            raise JournalConflict(
                f"The journal{'' if self.path is None else f' {self.path!r}'} holds an answer "
                f"for row id {row_id!r} given for other values: the rows or their ids changed "
                "since (another file, or a subset whose ids are positions). Give the rows "
                "stable ids (a DataFrame index), or use a new journal; no answer is reused "
                "for a row it was not given for.")
        return hit[1]

    def record(self, entries):
        """Journal answers: an iterable of dicts with row_id, fingerprint, answer, …"""
        rows = []
        for e in entries:
            key = _key(e["row_id"])
            ans = json.loads(_to_json(e["answer"]))
            self._mem[key] = (e["fingerprint"], ans)
            rows.append((key, json.dumps(str(e["row_id"])), e["fingerprint"], e.get("role"),
                         _to_json(e.get("given")), _to_json(e.get("suggested")),
                         json.dumps(ans), e.get("annotator"), e.get("time", time.time())))
        if self._conn is not None and rows:
            self._conn.executemany(
                "INSERT INTO answers (row_key, row_id, fingerprint, role, given, suggested, "
                "answer, annotator, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._conn.commit()

    def retract(self, row_id, fingerprint, annotator=None):
        """Withdraw the answer for this row (an undo): appended as a null answer, so the file
        keeps what was said and when, and a resumed run asks about the row again."""
        key = _key(row_id)
        self._mem.pop(key, None)
        if self._conn is not None:
            self._conn.execute(
                "INSERT INTO answers (row_key, row_id, fingerprint, answer, annotator, time) "
                "VALUES (?, ?, ?, 'null', ?, ?)",
                (key, json.dumps(str(row_id)), fingerprint, annotator, time.time()))
            self._conn.commit()

    def close(self):
        """Close the file (the answers stay in it; a closed journal records no more)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __getstate__(self):  # an open connection does not pickle; reopen on load
        state = self.__dict__.copy()
        state["_conn"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.path is not None:
            import os
            import warnings

            if not os.path.exists(self.path):
                # the pickle carries the answers: write them back rather than start empty
                warnings.warn(f"The journal file {self.path!r} is gone; it is written again "
                              f"from the {len(self._mem)} answer(s) this object carries.",
                              UserWarning, stacklevel=2)
            remembered, self._mem = self._mem, {}
            self._open()
            missing = [(k, fp, a) for k, (fp, a) in remembered.items() if k not in self._mem]
            self._conn.executemany(
                "INSERT INTO answers (row_key, row_id, fingerprint, answer, annotator, time) "
                "VALUES (?, ?, ?, ?, 'restored', ?)",
                [(k, json.dumps(k.split(":", 1)[1]), fp, json.dumps(a), time.time())
                 for k, fp, a in missing])
            self._conn.commit()
            self._mem.update({k: (fp, a) for k, fp, a in missing})

    def __deepcopy__(self, memo):  # one journal per run: copies share it
        return self

    def __repr__(self):
        where = self.path or "memory"
        return f"Journal({where!r}, {len(self)} answers)"


# --------------------------------------------------------------------------- questioner
#: The columns of every cleaner's ``cleaning_report()``, in order.
REPORT_COLUMNS = ["row_id", "question", "role", "given", "suggested", "answer", "applied",
                  "skipped", "score", "annotator", "from_journal", "time"]

def _aligned(answer, asked_ids):
    """A pandas Series answer in the order of the rows asked: by its index when that holds
    the row ids, else by position only when the index is the plain ``0..n-1``."""
    index = getattr(answer, "index", None)
    if index is None or not hasattr(answer, "reindex"):
        return answer
    labels = [_plain(i) for i in index]
    ids = [_plain(i) for i in asked_ids]
    if len(set(labels)) == len(labels) and set(labels) == set(ids):
        return answer.reindex(index[[labels.index(i) for i in ids]]).to_numpy(dtype=object)
    if labels == list(range(len(labels))):
        return answer.to_numpy(dtype=object)
    raise OracleError(f"The oracle answered a pandas Series whose index is neither the row "
                      f"ids asked ({ids[:5]}...) nor 0..{len(ids) - 1}: its answers cannot "
                      "be matched to rows.")


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _annotator_name(oracle):
    return getattr(oracle, "name", None) or type(oracle).__name__


class Questioner:
    """Asks one cleaner's questions: row ids, validation, journal, records.

    Parameters
    ----------
    classes : ndarray
        The label set; answers outside it are faults.
    journal : Journal
    fingerprints : dict or None
        Row id -> fingerprint of the row as the user gave it
        (:func:`raw_row_fingerprints`), for the rows a Pipeline transforms
        before the cleaner sees them; the cleaner adds rows as they arrive.
        Other rows are fingerprinted from their values as asked.
    """

    def __init__(self, classes, journal, fingerprints=None):
        self.classes = np.asarray(classes)
        self.journal = journal
        self.fingerprints = fingerprints
        self.records = []
        self.n_questions = 0  # questions so far (asked, replayed or decided): their number
        self.stopped = False

    def __deepcopy__(self, memo):
        # the journal is shared (answers are never rolled back); the records are state, but
        # a record is never changed after the step that wrote it (set_applied edits only the
        # question just asked), so a copy of the list restores them: deep-copying every
        # record at every step of a long stream would make it quadratic
        new = copy.copy(self)
        new.records = list(self.records)
        return new

    def ask(self, oracle, X, y, row_ids, *, role, suggested=None, predicted=None, scores=None,
            extra=None, note=None):
        """Ask about rows ``X`` (current labels ``y``, ids ``row_ids``).

        Rows the journal knows are answered from it; the others go to the
        oracle in one call, whose context carries ``record_answer(j,
        label)``: an oracle that answers row by row (a person) calls it with
        each answer as it is given, and the answer is journaled at once, so
        an interruption in the middle of a question loses nothing typed;
        ``retract_answer(j)`` withdraws one (an undo before the question is
        sent).
        Nothing else is recorded unless the whole answer is valid.  ``extra``
        is passed to the oracle in the context; ``note`` adds columns to the
        records (an array of ``len(X)`` gives one value
        per row).

        Returns
        -------
        labels : ndarray, dtype of ``classes``
            The answer per row; the current label where the row was skipped.
        skipped : ndarray of bool
        votes : ndarray of shape (n, n_voters) or None
            Validated per-annotator votes when the oracle exposes them
            (``last_votes_``) for this question.

        Raises
        ------
        OracleError
            The oracle raised or answered wrongly (nothing is recorded).
        KeyboardInterrupt
            Passed through (nothing is recorded).
        """
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        y = np.asarray(y)
        row_ids = list(row_ids)
        role = np.broadcast_to(np.asarray(role, dtype=object), (n,))
        raw = self.fingerprints or {}
        fps = [raw[rid] if rid in raw else row_fingerprint(X[i])
               for i, rid in enumerate(row_ids)]
        labels = np.asarray(y, dtype=self.classes.dtype).copy()
        skipped = np.zeros(n, dtype=bool)
        known = np.zeros(n, dtype=bool)
        for i, (rid, fp) in enumerate(zip(row_ids, fps, strict=True)):
            hit = self.journal.lookup(rid, fp)
            if hit is not None and np.any(self.classes == hit):
                labels[i] = self.classes[np.flatnonzero(self.classes == hit)[0]]
                known[i] = True
        ask = np.flatnonzero(~known)
        votes = None
        stop = False
        annotator = _annotator_name(oracle)
        committed = {}  # asked row -> the answer already journaled through record_answer

        def entry(i, label, when):
            return {"row_id": row_ids[i], "fingerprint": fps[i], "role": role[i],
                    "given": y[i], "answer": label, "annotator": annotator, "time": when,
                    "suggested": None if suggested is None else np.asarray(suggested)[i]}

        def record_answer(j, label):
            """Journal the answer to the ``j``-th asked row the moment it is given."""
            got, skip = check_answer([label], 1, self.classes)
            if not skip[0]:
                self.journal.record([entry(ask[j], got[0], time.time())])
                committed[ask[j]] = got[0]

        def retract_answer(j):
            """Withdraw the journaled answer to the ``j``-th asked row (an undo)."""
            if committed.pop(ask[j], None) is not None:
                self.journal.retract(row_ids[ask[j]], fps[ask[j]], annotator)

        if len(ask):
            context = {"role": role[ask], "row_ids": [row_ids[i] for i in ask],
                       "classes": self.classes, "record_answer": record_answer,
                       "retract_answer": retract_answer}
            for name, val in (("suggested", suggested), ("predicted", predicted),
                              ("scores", scores)):
                if val is not None:
                    context[name] = np.asarray(val)[ask]
            if extra:
                context.update(extra)
                if "n_asked" in extra:  # the number of each asked row within the budget
                    context["question_numbers"] = extra["n_asked"] + ask + 1
            try:
                answer = oracle(X[ask], y[ask], **context)
            except OracleStop as exc:
                answer, stop = exc.answers, True
                if answer is None:
                    answer = [SKIP] * len(ask)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                raise OracleError(f"The oracle raised {type(exc).__name__}: {exc}") from exc
            answer = _aligned(answer, [row_ids[i] for i in ask])
            got, skip = check_answer(answer, len(ask), self.classes)
            votes = self._votes(oracle, len(ask))
            labels[ask[~skip]] = got[~skip]
            skipped[ask] = skip
        self.n_questions += 1  # numbers the question, asked or replayed alike
        # the answer is valid: journal what record_answer did not (a crash later loses
        # nothing), then record
        now = time.time()
        fresh = [i for i in ask if not skipped[i]
                 and not (i in committed and committed[i] == labels[i])]
        self.journal.record(entry(i, labels[i], now) for i in fresh)
        self._record(row_ids, role, y, suggested, np.where(skipped, None, labels.astype(object)),
                     np.where(skipped, y, labels), skipped, known, annotator, now, scores, note)
        if stop:
            self.stopped = True
        if votes is not None and len(ask) != n:
            votes = None  # a partly replayed question: the votes cover only some rows
        return labels, skipped, votes

    def _record(self, row_ids, role, given, suggested, answers, applied, skipped, known,
                annotator, now, scores, note):
        n = len(row_ids)
        role = np.broadcast_to(np.asarray(role, dtype=object), (n,))
        for i in range(n):
            rec = {
                "row_id": row_ids[i], "question": self.n_questions, "role": role[i],
                "given": given[i],
                "suggested": None if suggested is None else np.asarray(suggested)[i],
                "answer": answers[i], "applied": applied[i], "skipped": bool(skipped[i]),
                "score": np.nan if scores is None else float(np.asarray(scores)[i]),
                "annotator": "journal" if known[i] else annotator,
                "from_journal": bool(known[i]), "time": now,
            }
            for key, val in (note or {}).items():
                per_row = isinstance(val, np.ndarray) and val.ndim >= 1 and len(val) == n
                rec[key] = val[i] if per_row else val
            self.records.append(rec)

    def decide(self, row_ids, given, applied, *, role, decided_by, suggested=None,
               scores=None, note=None):
        """Record labels a cleaner applied without asking (e.g. INFL's own suggestion)."""
        n = len(row_ids)
        self.n_questions += 1  # one group of decisions, numbered like a question
        self._record(list(row_ids), role, np.asarray(given), suggested,
                     [None] * n, np.asarray(applied), np.zeros(n, dtype=bool),
                     np.zeros(n, dtype=bool), decided_by, time.time(), scores, note)

    def set_applied(self, applied):
        """The labels finally applied to the rows of the last question (e.g. a vote)."""
        for rec, lab in zip(self.records[-len(applied):], applied, strict=True):
            if not rec["skipped"]:
                rec["applied"] = lab

    def report(self):
        """The records as a pandas DataFrame, one row per row asked about."""
        import pandas as pd

        df = pd.DataFrame.from_records(self.records, columns=REPORT_COLUMNS + sorted(
            {k for r in self.records for k in r} - set(REPORT_COLUMNS)))
        df["changed"] = ~df["skipped"].astype(bool) & (df["applied"] != df["given"])
        df["time"] = pd.to_datetime(df["time"], unit="s", utc=True)
        return df

    def _votes(self, oracle, n):
        votes = getattr(oracle, "last_votes_", None)
        if votes is None:
            return None
        votes = np.asarray(votes, dtype=object)
        if votes.ndim != 2 or votes.shape[0] != n:
            return None
        checked = []
        for j in range(votes.shape[1]):
            lab, skip = check_answer(votes[:, j], n, self.classes, who=f"Annotator {j}")
            checked.append(np.where(skip, None, lab.astype(object)))
        return np.stack(checked, axis=1)


# --------------------------------------------------------------------------- rollback
@contextmanager
def transaction(estimator, shared=(), append_only=()):
    """Restore ``estimator.__dict__`` exactly if the block raises (anything, even Ctrl-C).

    Everything is deep-copied except the constructor parameters (the user's
    objects: oracle, estimator template), the attributes named in ``shared``,
    which the block must *replace* rather than modify in place (large
    read-only arrays, caches), and the lists named in ``append_only`` (records
    that grow by one entry per step), which the block may only append to and
    which are cut back to their length on failure: copying them at every step
    would make a long stream quadratic.  The journal is never copied: answers
    given before the failure stay journaled.
    """
    state = estimator.__dict__
    names = set(shared) | set(append_only) | set(estimator.get_params(deep=False))
    memo = {id(state[name]): state[name] for name in names if name in state}
    lengths = {name: len(state[name]) for name in append_only if name in state}
    saved = copy.deepcopy(state, memo)
    try:
        yield
    except BaseException:
        # the journal of the failed run is kept for a resumed one, whatever else rolls back
        pending = state.get("_resumable_journal")
        state.clear()
        state.update(saved)
        for name, n in lengths.items():
            del state[name][n:]
        if pending is not None:
            state["_resumable_journal"] = pending
        raise
