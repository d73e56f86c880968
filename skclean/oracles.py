"""Oracles: who answers the cleaners' questions about labels.

An oracle is any callable ``oracle(X_query, y_query, **context) -> labels``:
one label per queried row, in the classes' own label space; returning the
given label keeps it.  Cleaners pass ``context`` keys such as ``role`` (per
row: ``"suspicious"``, ``"counterexample"`` or ``"candidate"``),
``predicted``, ``suggested``, ``scores`` and ``classes``; oracles ignore what
they do not use.  :func:`query_oracle` validates every answer before a
cleaner touches its state.
"""

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "BaseOracle",
    "ConsoleOracle",
    "MajorityVoteOracle",
    "OracleError",
    "SimulatedOracle",
    "query_oracle",
]


class OracleError(RuntimeError):
    """The oracle failed or gave an answer that cannot be applied."""


def query_oracle(oracle, X, y, classes, **context):
    """Ask ``oracle`` about rows ``X`` with current labels ``y`` and validate the answer.

    Returns
    -------
    labels : ndarray of shape (len(X),)
        The answer, cast to the dtype of ``classes``.

    Raises
    ------
    OracleError
        If the oracle raises, or answers with the wrong number of labels or a
        label outside ``classes``.  ``KeyboardInterrupt`` passes through.
    """
    classes = np.asarray(classes)
    try:
        answer = oracle(X, y, classes=classes, **context)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        raise OracleError(f"The oracle raised {type(exc).__name__}: {exc}") from exc
    try:
        answer = np.asarray(answer)
    except Exception as exc:
        raise OracleError(f"The oracle's answer is not array-like: {exc}") from exc
    if answer.ndim == 0:
        answer = answer.reshape(1)
    if answer.shape != (len(X),):
        raise OracleError(
            f"The oracle must return one label per queried row: expected shape ({len(X)},), "
            f"got {answer.shape}."
        )
    known = np.isin(answer, classes)
    if not np.all(known):
        raise OracleError(
            f"The oracle answered unknown label(s) {answer[~known].tolist()}; "
            f"known classes are {classes.tolist()}."
        )
    return answer.astype(classes.dtype, copy=False)


class BaseOracle:
    """Base class for oracles: subclasses implement :meth:`query`."""

    def __call__(self, X, y, **context):
        return self.query(np.asarray(X), np.asarray(y), **context)

    def query(self, X, y, **context):
        """Return one label per row of ``X``."""
        raise TypeError(f"{type(self).__name__} must implement query().")

    def __repr__(self):
        return f"{type(self).__name__}()"


def _row_key(row):
    # float32 bytes: a row cast to float32 on its way through a torch model
    # still finds itself, and float64 originals map to the same key.
    return np.ascontiguousarray(row, dtype=np.float32).tobytes()


class SimulatedOracle(BaseOracle):
    """An annotator that knows the true labels, found by row content.

    Looking rows up by their values (not by position) lets the same oracle
    answer for streamed rows, shuffled copies and counter-examples drawn from
    a training set.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Rows the oracle knows.
    y_true : array-like of shape (n,)
        Their true labels.
    error_rate : float, default=0.0
        Probability of answering a wrong label (drawn uniformly among the other
        classes), to simulate a fallible annotator.
    random_state : int, RandomState or None
        Seeds the annotator's mistakes.
    """

    def __init__(self, X, y_true, *, error_rate=0.0, random_state=None):
        X = np.asarray(X)
        y_true = np.asarray(y_true)
        if X.ndim != 2 or len(X) != len(y_true):
            raise ValueError("X must be 2-D with one true label per row.")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {error_rate}.")
        self.error_rate = error_rate
        self.classes_ = np.unique(y_true)
        self._rng = check_random_state(random_state)
        self._labels = {}
        for row, label in zip(X, y_true, strict=True):
            self._labels.setdefault(_row_key(row), label)
        self.n_queries_ = 0

    def true_labels(self, X):
        """The true label of each row of ``X`` (``KeyError`` for an unknown row)."""
        out = []
        for i, row in enumerate(np.asarray(X)):
            try:
                out.append(self._labels[_row_key(row)])
            except KeyError:
                raise KeyError(f"Row {i} of the query is not among the oracle's rows.") from None
        return np.asarray(out, dtype=self.classes_.dtype)

    def query(self, X, y, **context):
        labels = self.true_labels(X)
        self.n_queries_ += len(labels)
        if self.error_rate > 0:
            wrong = self._rng.rand(len(labels)) < self.error_rate
            pos = np.searchsorted(self.classes_, labels[wrong])
            shift = self._rng.randint(1, len(self.classes_), size=wrong.sum())
            labels[wrong] = self.classes_[(pos + shift) % len(self.classes_)]
        return labels

    def __repr__(self):
        return f"SimulatedOracle(n_rows={len(self._labels)}, error_rate={self.error_rate})"


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
        votes = np.stack([np.asarray(o(X, y, **context)) for o in self.oracles], axis=1)
        self.last_votes_ = votes
        return np.asarray([self._decide(row, cur) for row, cur in zip(votes, y, strict=True)],
                          dtype=votes.dtype)

    def _decide(self, row, current):
        labels, first_pos, counts = np.unique(row, return_index=True, return_counts=True)
        tied = labels[counts == counts.max()]
        if len(tied) == 1:
            return tied[0]
        if self.tie_break == "keep" and current in tied:
            return current
        if self.tie_break == "random":
            return tied[self._rng.randint(len(tied))]
        order = np.argsort(first_pos[counts == counts.max()])
        return tied[order[0]]

    def __repr__(self):
        return f"MajorityVoteOracle({len(self.oracles)} oracles, tie_break={self.tie_break!r})"


class ConsoleOracle(BaseOracle):
    """Ask a person at a terminal.

    For each queried row it prints the row's role, its features (the first
    ``max_features``), the current label and the model's prediction and
    suggestion when given, then reads an answer:

    * a class label (as printed in the list of classes) sets that label,
    * an empty line or ``keep`` keeps the current label,
    * ``skip`` keeps the current labels of this row and of the rest of the query.

    Anything else is reported and asked again.

    Parameters
    ----------
    classes : array-like, default=None
        Allowed labels; by default the ``classes`` the cleaner passes in the context.
    feature_names : list of str, default=None
    max_features : int, default=10
    input_fn, print_fn : callables, default=input, print
        Replace them to drive the oracle from another interface or a test.
    """

    def __init__(self, *, classes=None, feature_names=None, max_features=10, input_fn=input,
                 print_fn=print):
        self.classes = classes
        self.feature_names = feature_names
        self.max_features = max_features
        self.input_fn = input_fn
        self.print_fn = print_fn

    def _describe(self, i, x, label, context):
        out = self.print_fn
        role = context.get("role")
        role = role[i] if role is not None and not isinstance(role, str) else role
        out(f"--- row {i + 1}" + (f" ({role})" if role else "") + " ---")
        names = self.feature_names or [f"x{j}" for j in range(len(x))]
        pairs = list(zip(names, x, strict=False))[: self.max_features]
        shown = ", ".join(f"{n}={v:.4g}" for n, v in pairs)
        more = f" … (+{len(x) - self.max_features})" if len(x) > self.max_features else ""
        out(f"  features: {shown}{more}")
        out(f"  current label: {label}")
        for key in ("predicted", "suggested", "scores"):
            if context.get(key) is not None:
                out(f"  {key}: {np.asarray(context[key])[i]}")

    def query(self, X, y, **context):
        classes = np.asarray(self.classes if self.classes is not None else context.get("classes"))
        if classes.ndim == 0:
            raise ValueError("ConsoleOracle needs the classes (pass classes=...).")
        by_text = {str(c): c for c in classes}
        answers = list(y)
        for i, (x, label) in enumerate(zip(X, y, strict=True)):
            self._describe(i, np.ravel(x), label, context)
            while True:
                text = self.input_fn(f"label {list(by_text)} [keep]: ").strip()
                if text in ("", "keep", "k"):
                    break
                if text in ("skip", "s"):
                    return np.asarray(answers, dtype=classes.dtype)
                if text in by_text:
                    answers[i] = by_text[text]
                    break
                self.print_fn(f"  '{text}' is not a class; type one of {list(by_text)}, "
                              "'keep' or 'skip'.")
        return np.asarray(answers, dtype=classes.dtype)
