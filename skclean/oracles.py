"""Oracles: who answers the cleaners' questions about labels.

An oracle is any callable ``oracle(X_query, y_query, **context) -> labels``:
one label per queried row, in the classes' own label space; returning the
given label keeps it, :data:`~skclean.questions.SKIP` gives no judgement.
Cleaners pass ``context`` keys ``row_ids`` (the user's row ids of the queried
rows), ``role`` (per row: ``"suspicious"``, ``"counterexample"`` or
``"candidate"``), ``predicted``, ``suggested``, ``scores`` and ``classes``;
oracles ignore what they do not use.  How questions are asked, validated and
journaled lives in :mod:`skclean.questions`.
"""

import hashlib

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .questions import (
    SKIP,
    OracleError,
    OracleStop,
    majority_vote,
    numeric_rows,
    query_oracle,
    row_ids_of,
)
from .utils import store_parameters

__all__ = [
    "SKIP",
    "BaseOracle",
    "BudgetedOracle",
    "ConsoleOracle",
    "MajorityVoteOracle",
    "OracleError",
    "OracleStop",
    "SimulatedOracle",
    "query_oracle",
]


class BaseOracle:
    """Base class for oracles: subclasses implement :meth:`query`."""

    def __call__(self, X, y, **context):
        # sparse rows reach the oracle as they are (a TF-IDF row densified is mostly zeros)
        return self.query(X if sp.issparse(X) else np.asarray(X), np.asarray(y), **context)

    def query(self, X, y, **context):
        """Return one label per row of ``X`` (or ``SKIP``)."""
        raise TypeError(f"{type(self).__name__} must implement query().")

    def __repr__(self):
        return f"{type(self).__name__}()"


def _content_keys(X, i):
    """Hashes of row ``i``'s values in float64 and float32, the same for a dense row and a
    sparse one: the positions and values of its non-zeros (a hash, not the bytes: a
    table of raw rows would double the data in memory).  ``X`` is what
    :func:`numeric_rows` returns: sparse rows are read from its CSR buffers
    (slicing a scipy row costs ~0.1 ms, too much for 10⁵ rows)."""
    if sp.issparse(X):
        a, b = X.indptr[i], X.indptr[i + 1]
        d, pos, vals = X.shape[1], X.indices[a:b], X.data[a:b]
    else:
        row = X[i].ravel()
        d, pos = row.size, np.flatnonzero(row)
        vals = row[pos]
    keys = []
    for t in (np.float64, np.float32):
        v = vals.astype(t) + 0.0
        nz = v != 0  # in this precision (a tiny float64 is a float32 zero)
        data = np.asarray([d], dtype=np.int64).tobytes() + pos[nz].astype(np.int64).tobytes()
        keys.append(hashlib.sha1(data + np.ascontiguousarray(v[nz]).tobytes()).digest())
    return tuple(keys)


def _row_key(row_id):
    return row_id.item() if isinstance(row_id, np.generic) else row_id


def _lookup_id(by_id, by_position, row_id):
    """A row id is an index label of the oracle's data, else a position in it.

    A cleaner sees the DataFrame index when it gets a DataFrame (e.g. after
    ``pipeline.set_output(transform="pandas")``), and positions when a
    transformer before it returned an array: both name the same rows.
    """
    key = _row_key(row_id)
    if key in by_id:
        return by_id[key]
    if isinstance(key, int) and 0 <= key < len(by_position):
        return by_position[key]
    return None


class SimulatedOracle(BaseOracle):
    """An annotator that knows the true labels.

    Each queried row is found by its values when they identify it
    unambiguously (exactly, or after a float32 round trip), else by the row
    id the cleaner passes (``row_ids`` in the context: the DataFrame index,
    or the position in the ``X`` given to the cleaner).  Looking rows up by
    value lets one oracle answer for streamed rows, shuffled copies and
    counter-examples; the row id answers for rows a Pipeline transformed
    before the cleaner saw them, and for duplicate rows with different
    labels.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n, d)
        Rows the oracle knows (the user's raw rows).
    y_true : array-like of shape (n,)
        Their true labels.
    error_rate : float, default=0.0
        Probability of answering a wrong label (drawn uniformly among the other
        classes), to simulate a fallible annotator.
    random_state : int, RandomState or None
        Seeds the annotator's mistakes.

    Examples
    --------
    >>> import numpy as np
    >>> from skclean import SimulatedOracle
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> oracle = SimulatedOracle(X, ["cat", "dog"])
    >>> oracle(X[::-1], np.array(["cat", "cat"])).tolist()
    ['dog', 'cat']
    """

    def __init__(self, X, y_true, *, error_rate=0.0, random_state=None):
        ids = list(row_ids_of(X))
        X = numeric_rows(X)  # rows with text cells are found by row id only
        y_true = np.asarray(y_true)
        if X is not None and (X.ndim < 2 or X.shape[0] != len(y_true)):
            raise ValueError("X must hold rows (2-D, or n-D such as images (n, C, H, W)) "
                             "with one true label per row.")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {error_rate}.")
        if len(set(map(_row_key, ids))) != len(ids):
            raise ValueError("The row ids (the DataFrame index) of X must be unique.")
        self.error_rate = error_rate
        self.classes_ = np.unique(y_true)
        self._rng = check_random_state(random_state)
        self._by_id = dict(zip(map(_row_key, ids), y_true, strict=True))
        self._by_position = y_true
        if len(ids) != len(y_true):
            raise ValueError("X must hold rows (2-D, or n-D such as images (n, C, H, W)) "
                             "with one true label per row.")
        self._by_value = ({}, {})  # exact bytes / float32 bytes -> set of labels
        for i, label in zip(range(0 if X is None else X.shape[0]), y_true, strict=False):
            for table, key in zip(self._by_value, _content_keys(X, i), strict=True):
                table.setdefault(key, set()).add(label)
        self.n_queries_ = 0

    def true_labels(self, X, row_ids=None):
        """The true label of each row of ``X``.

        Raises ``KeyError`` for a row found neither by value nor by id.
        """
        out = []
        rows = numeric_rows(X)
        for i in range(X.shape[0] if hasattr(X, "shape") else len(X)):
            label = None
            keys = () if rows is None else _content_keys(rows, i)
            for table, key in zip(self._by_value, keys, strict=False):
                found = table.get(key)
                if found is not None and len(found) == 1:
                    label = next(iter(found))
                    break
            if label is None and row_ids is not None:
                label = _lookup_id(self._by_id, self._by_position, row_ids[i])
            if label is None:
                hint = "" if row_ids is not None else " (no row id was given)"
                raise KeyError(f"Row {i} of the query is not among the oracle's rows, or its "
                               f"values match rows with different labels{hint}.")
            out.append(label)
        return np.asarray(out, dtype=self.classes_.dtype)

    def query(self, X, y, row_ids=None, **context):
        labels = self.true_labels(X, row_ids)
        self.n_queries_ += len(labels)
        if self.error_rate > 0:
            wrong = self._rng.rand(len(labels)) < self.error_rate
            pos = np.searchsorted(self.classes_, labels[wrong])
            shift = self._rng.randint(1, len(self.classes_), size=wrong.sum())
            labels[wrong] = self.classes_[(pos + shift) % len(self.classes_)]
        return labels

    def __repr__(self):
        return f"SimulatedOracle(n_rows={len(self._by_id)}, error_rate={self.error_rate})"


class MajorityVoteOracle(BaseOracle):
    """Majority vote over several oracles (e.g. three fallible annotators).

    Parameters
    ----------
    oracles : list of callables
    tie_break : {"first", "keep", "random"}, default="first"
        On a tie: the tied label named by the earliest oracle, the row's
        current label if it is among the tied ones (else ``"first"``), or a
        random tied label.
    random_state : int, RandomState or None
        Used by ``tie_break="random"``.

    Attributes
    ----------
    last_votes_ : ndarray of shape (n_rows, n_oracles)
        Every oracle's answers to the last query.

    Examples
    --------
    >>> import numpy as np
    >>> from skclean import MajorityVoteOracle, SimulatedOracle
    >>> X, y = np.eye(4), np.array([0, 1, 1, 0])
    >>> annotators = [SimulatedOracle(X, y, error_rate=0.3, random_state=s) for s in range(3)]
    >>> vote = MajorityVoteOracle(annotators)
    >>> vote(X, y).shape, vote.last_votes_.shape
    ((4,), (4, 3))
    """

    def __init__(self, oracles, *, tie_break="first", random_state=None):
        if len(oracles) == 0:
            raise ValueError("MajorityVoteOracle needs at least one oracle.")
        if tie_break not in ("first", "keep", "random"):
            raise ValueError(f"tie_break must be 'first', 'keep' or 'random', got {tie_break!r}")
        self.oracles = list(oracles)
        self.tie_break = tie_break
        self._rng = check_random_state(random_state)

    def query(self, X, y, **context):
        # one annotator's vote is not the row's answer: only the majority is journaled
        context.pop("record_answer", None)
        votes = np.stack([np.asarray(o(X, y, **context), dtype=object) for o in self.oracles],
                         axis=1)
        self.last_votes_ = votes
        return np.asarray([majority_vote(row, current=cur, tie_break=self.tie_break,
                                         random_state=self._rng)
                           for row, cur in zip(votes, y, strict=True)], dtype=object)

    def __repr__(self):
        return f"MajorityVoteOracle({len(self.oracles)} oracles, tie_break={self.tie_break!r})"


class BudgetedOracle(BaseOracle):
    """Another oracle, asked about at most ``budget`` rows; then the cleaning stops.

    Puts a limit on the questions of a cleaner that has none of its own (CINCER
    asks whenever a streamed row is suspicious).  The question that reaches the
    budget is asked for the rows still in it, and ends the cleaning cleanly
    (:class:`OracleStop`) with those answers kept.

    Parameters
    ----------
    oracle : callable
        The oracle that answers (a person, a simulation...).
    budget : int
        Rows it may be asked about in all.

    Attributes
    ----------
    n_asked_ : int
        Rows asked so far.

    Examples
    --------
    >>> import numpy as np
    >>> from skclean.oracles import BudgetedOracle, OracleStop
    >>> oracle = BudgetedOracle(lambda X, y, **c: np.ones(len(y), int), budget=3)
    >>> oracle(np.zeros((2, 1)), np.zeros(2, int)).tolist()
    [1, 1]
    >>> try:
    ...     oracle(np.zeros((2, 1)), np.zeros(2, int))
    ... except OracleStop as stop:
    ...     print(list(stop.answers))
    [1, SKIP]
    """

    def __init__(self, oracle, budget):
        if not callable(oracle):
            raise TypeError(f"oracle must be callable, got {type(oracle).__name__}.")
        if int(budget) < 1:
            raise ValueError(f"budget must be at least 1, got {budget}.")
        self.oracle, self.budget, self.n_asked_ = oracle, int(budget), 0
        self.name = getattr(oracle, "name", None) or type(oracle).__name__

    def __call__(self, X, y, **context):
        n = len(y)
        k = min(n, self.budget - self.n_asked_)
        if k <= 0:
            raise OracleStop("the budget of questions is spent")
        if k < n:  # the rows still within the budget, with their share of the context
            context = {key: (np.asarray(v)[:k] if isinstance(v, list | np.ndarray)
                             and len(v) == n else v) for key, v in context.items()}
        answers = [_row_key(a) for a in self.oracle(X[:k], np.asarray(y)[:k], **context)]
        self.n_asked_ += k
        if k < n:
            raise OracleStop("the budget of questions is spent", answers + [SKIP] * (n - k))
        return np.asarray(answers, dtype=object)

    def review_finished(self, n_questions):
        """Pass the end of a run on to the wrapped oracle (a web page says so)."""
        finished = getattr(self.oracle, "review_finished", None)
        if finished is not None:
            finished(n_questions)

    def __repr__(self):
        return f"BudgetedOracle({self.oracle!r}, budget={self.budget})"


#: What a person may type instead of a label (a class of the same name wins; ':keep' etc.
#: always mean the command).
_COMMANDS = {"keep": "keep", "k": "keep", "skip": "skip", "s": "skip", "stop": "stop",
             "quit": "stop", "q": "stop"}


def _printable(value):
    """``value`` as text with control characters escaped: data cannot drive the terminal."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


_SHADES = " .:-=+*#%@"  # light to dark: ink on paper, as digits are drawn


def image_of(x):
    """One n-D row as an image ``(H, W)`` or ``(H, W, C)`` (C of 3 or 4) of floats, or
    ``None`` for a row that is not one (``(H, W)``, or ``(C, H, W)`` with 1, 3 or 4
    channels, as torch stores them)."""
    if sp.issparse(x) or isinstance(x, list | str):
        return None
    x = np.asarray(x)
    if x.dtype.kind not in "fiub" or x.ndim not in (2, 3) or min(x.shape[-2:]) < 2:
        return None
    x = x.astype(float)
    if x.ndim == 3:
        if x.shape[0] not in (1, 3, 4):
            return None
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    return x


def _ascii_image(x, max_side=32):
    """Lines drawing one n-D row in shades of text (:func:`image_of`), or ``None`` for a row
    that is not an image."""
    x = image_of(x)
    if x is None:
        return None
    if x.ndim == 3:
        x = x.mean(-1)
    step = max(1, -(-max(x.shape) // max_side))  # every step-th pixel: at most max_side
    x = x[::step, ::step].astype(float)
    lo, hi = np.nanmin(x), np.nanmax(x)
    level = np.zeros(x.shape, dtype=int) if hi <= lo else np.rint(
        (x - lo) / (hi - lo) * (len(_SHADES) - 1)).astype(int)
    return ["".join(2 * _SHADES[v] for v in row) for row in level]  # 2 chars: square pixels


def _shown_features(x, names):
    """``([(name, value)], heading)`` for one row: a sparse row by its non-zeros, largest
    first (a TF-IDF row's few words, not thousands of zeros)."""
    if sp.issparse(x):
        x = x.tocoo()
        order = np.argsort(-np.abs(x.data), kind="stable")
        cols, vals = x.col[order], x.data[order]
        pairs = [(names[j] if names is not None else f"x{j}", float(v))
                 for j, v in zip(cols, vals, strict=True)]
        return pairs, f"non-zero features ({len(pairs)} of {x.shape[1]})"
    x = np.ravel(x) if not isinstance(x, list) else x
    names = names or [f"x{j}" for j in range(len(x))]
    return list(zip(names, x, strict=False)), "features"


def raw_row(data, rid, names=None):
    """The user's own row ``rid`` of ``data`` (a DataFrame's index label, else a position)
    and its column names: what a person is shown instead of the encoded features."""
    if hasattr(data, "loc"):
        key = _row_key(rid)
        row = data.loc[key] if key in data.index else data.iloc[int(key)]
        return list(row.to_numpy()), names or [str(c) for c in row.index]
    row = data[int(rid)]
    return (row if isinstance(row, str) else list(np.asarray(row).ravel())
            if np.ndim(row) <= 1 else np.asarray(row)), names


class ConsoleOracle(BaseOracle):
    """Ask a person at a terminal.

    For each queried row it prints the question number, the row id, the
    row's role, its features (the first ``max_features``), its current label
    and, when the cleaner gives them, the model's prediction and the
    suggested label, then reads an answer:

    * a class label (as printed) sets that label;
    * an empty line accepts the suggestion shown, or keeps the current label
      when there is none (the prompt says which);
    * ``keep`` keeps the current label (a confirmation: the row is cleaned);
    * ``skip`` gives no judgement: the row stays as it is, not cleaned;
    * ``stop``, or end of input (Ctrl-D), ends the cleaning cleanly: every
      answer given so far is kept.

    Anything else is reported and asked again.

    Parameters
    ----------
    classes : array-like, default=None
        Allowed labels; by default the ``classes`` the cleaner passes.
    data : DataFrame or array-like, default=None
        Your original rows.  When the cleaner passes row ids (it always
        does), the person sees the raw row with its column names, not the
        scaled or encoded features a Pipeline hands the cleaner.
    feature_names : list of str, default=None
        Names for the features shown (``data``'s columns by default).
    max_features : int, default=10
        Features shown per row; longer rows are summarised.
    input_fn, print_fn : callables, default=input, print
        Replace them to drive the oracle from another interface or a test.

    Examples
    --------
    >>> import numpy as np
    >>> from skclean import ConsoleOracle
    >>> typed = iter(["dog", ""])
    >>> oracle = ConsoleOracle(input_fn=lambda prompt: next(typed), print_fn=lambda s: None)
    >>> oracle(np.zeros((2, 1)), np.array(["cat", "cat"]), classes=np.array(["cat", "dog"]),
    ...        suggested=np.array(["dog", "dog"])).tolist()
    ['dog', 'dog']
    """

    def __init__(self, *, classes=None, data=None, feature_names=None, max_features=10,
                 input_fn=input, print_fn=print):
        store_parameters(self, locals())
        self.n_asked_ = 0

    @staticmethod
    def _at(context, key, i):
        val = context.get(key)
        if val is None or isinstance(val, str):
            return val
        return np.asarray(val, dtype=object)[i]

    def _describe(self, i, x, label, context):
        out = self.print_fn
        self.n_asked_ += 1
        role = self._at(context, "role", i)
        rid = self._at(context, "row_ids", i)
        budget = context.get("budget")
        numbers = context.get("question_numbers")
        k = self.n_asked_ if numbers is None else int(np.asarray(numbers)[i])
        head = f"--- question {k}" + (f" of {budget}" if budget is not None else "")
        head += f": row {rid}" if rid is not None else f": row {i + 1} of this query"
        out(head + (f" ({role})" if role else "") + " ---")
        names = self.feature_names
        if self.data is not None and rid is not None:
            x, names = self._raw_row(rid, names)
        art = _ascii_image(x)
        if art is not None:
            out(f"  image {'×'.join(map(str, np.shape(x)))}:")
            for line in art:
                out(f"    |{line}|")
            pairs, what = [], None
        else:
            pairs, what = _shown_features(x, names)
        shown = ", ".join(f"{_printable(n)}={v:.4g}" if isinstance(v, float | np.floating)
                          else f"{_printable(n)}={_printable(v)}"
                          for n, v in pairs[: self.max_features])
        more = (f" … (+{len(pairs) - self.max_features} more)"
                if len(pairs) > self.max_features else "")
        if what is not None:
            out(f"  {what}: {shown}{more}")
        out(f"  current label: {_printable(label)}")
        pred = self._at(context, "predicted", i)
        if pred is not None:
            out(f"  predicted: {pred}   (what the model predicts for this row)")
        sugg = self._at(context, "suggested", i)
        if sugg is not None:
            out(f"  suggested: {sugg}   (the label the cleaner proposes)")
        return sugg

    def _raw_row(self, rid, names):
        return raw_row(self.data, rid, names)

    def query(self, X, y, **context):
        classes = np.asarray(self.classes if self.classes is not None else context.get("classes"))
        if classes.ndim == 0:
            raise ValueError("ConsoleOracle needs the classes (pass classes=...).")
        by_text = {str(c): c for c in classes}
        # a class named like a command is that class; the command stays reachable as ':keep'
        mark = ":" if any(t in _COMMANDS for t in by_text) else ""
        keep, skip, stop = (f"'{mark}{c}'" for c in ("keep", "skip", "stop"))
        keys = f"a label, Enter = {{}}, {keep}, {skip} (no judgement), {stop}"
        commit = context.get("record_answer")  # journals each answer as it is given
        answers = [SKIP] * len(y)
        for i, label in enumerate(y):
            sugg = self._describe(i, X[i], label, context)
            default = sugg if sugg is not None else label
            what = f"accept {sugg}" if sugg is not None else f"keep {label}"
            while True:
                try:
                    text = self.input_fn(f"{list(by_text)}; {keys.format(what)}: ").strip()
                except EOFError:
                    given = sum(a is not SKIP for a in answers)
                    self.print_fn(f"\nEnd of input: stopping; {given} answer(s) to this "
                                  "question kept, with every earlier one.")
                    raise OracleStop("end of input", answers) from None
                command = _COMMANDS.get(text.removeprefix(":")) if (
                    text.startswith(":") or text not in by_text) else None
                if text == "":
                    answers[i] = default
                elif text in by_text and command is None:
                    answers[i] = by_text[text]
                elif command == "keep":
                    answers[i] = label
                elif command == "skip":
                    break  # stays SKIP
                elif command == "stop":
                    self.print_fn("Stopping: every answer given so far is kept.")
                    raise OracleStop("stopped by the annotator", answers)
                else:
                    self.print_fn(f"  {_printable(text)!r} is not a class; type one of "
                                  f"{list(by_text)}, {keep}, {skip} or {stop}.")
                    continue
                if commit is not None:
                    commit(i, answers[i])
                break
        return np.asarray([_row_key(a) for a in answers], dtype=object)  # plain values
