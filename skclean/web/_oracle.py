"""``WebOracle``: a person answers the cleaners' questions in a browser."""

import time
import uuid
from queue import Empty

import numpy as np

from ..oracles import SKIP, BaseOracle, OracleStop, _row_key
from ..utils import store_parameters
from ._board import Board
from ._views import row_view

#: How the page names the ways a row can be answered besides a label.
COMMANDS = ("accept", "keep", "skip")
#: Seconds between checks for Ctrl-C while the cleaner waits for the page.
POLL = 0.2


class WebOracle(BaseOracle):
    """Ask a person in a browser: each question on a local page, answered from the keyboard.

    The oracle starts a small web server on 127.0.0.1 (a random port unless
    ``port`` is given, a secret token in the link: ``.url``) the first time a
    cleaner asks, prints the link (and shows the page inline in Jupyter), and
    blocks the cleaner until the person has answered, as
    :class:`~skclean.ConsoleOracle` does, so every cleaner works with it
    unchanged.  The page shows each row as the person has it (``data``): an
    image, a text, or a table with column names; the counter-example beside
    the suspicious row; the current label, the model's prediction and the
    suggestion; "question k of budget" and the labels changed so far.

    Keys: a class's key (shown on its button; the label itself when every
    label is one character), or ``/`` to search the classes; Enter accepts
    the suggestion (keeps the label when there is none) and, once every row
    of the question is answered, sends it; ``k`` keeps the label (a
    confirmation), ``s`` skips the row (no judgement), ``u`` undoes the last
    answer of the question still open, ``q`` stops the cleaning (every answer
    given is kept).

    Each answer is journaled (the cleaner's ``journal``) the moment it is
    given, before the page shows it as saved: closing the tab, reloading it
    or killing the process loses nothing, and a run started again with the
    same journal resumes where it stopped.  Two tabs on one question cannot
    both answer a row.  Requires the ``web`` extra (Flask).

    Parameters
    ----------
    data : DataFrame, list of str or array-like, default=None
        Your original rows, looked up by the row ids the cleaner passes (the
        DataFrame index, or positions): what the person sees instead of the
        encoded features.
    feature_names : list of str, default=None
        Column names for rows shown as a table (``data``'s columns by default).
    image_shape : tuple of int, default=None
        Show flat rows as images of this shape (``(8, 8)``, ``(3, 32, 32)``).
        Rows that are already ``(H, W)`` or ``(C, H, W)`` are shown as images
        without it.
    port : int, default=None
        The port to listen on; ``None`` picks a free one.
    classes : array-like, default=None
        Allowed labels; by default the ``classes`` the cleaner passes.
    print_fn : callable, default=print
        Where the link is announced.
    timeout : float, default=None
        Seconds to wait for the person on one question before stopping the
        cleaning (every answer given is kept); ``None`` waits as long as it takes.

    Attributes
    ----------
    url : str
        The page's link, token included (starts the server).

    Examples
    --------
    >>> from skclean import ChefCleaner
    >>> from skclean.web import WebOracle
    >>> oracle = WebOracle(image_shape=(8, 8))
    >>> chef = ChefCleaner(oracle=oracle, budget=20, journal="answers.sqlite")  # doctest: +SKIP
    >>> chef.fit(X, y, trusted_mask=verified)  # doctest: +SKIP
    Review the questions at http://127.0.0.1:50123/?token=...
    >>> oracle.close()
    """

    def __init__(self, *, data=None, feature_names=None, image_shape=None, port=None,
                 classes=None, print_fn=print, timeout=None):
        store_parameters(self, locals())
        self._server = None
        self._board = Board()

    # ------------------------------------------------------------ the server
    @property
    def url(self):
        return self._start().url

    def _start(self):
        if self._server is None:
            from ._app import Server

            self._server = Server(self._board, self.port)
        return self._server

    def close(self):
        """Stop the server (the page then says so); the next question starts a new one."""
        if self._server is not None:
            self._board.end("the oracle was closed")
            self._server.shutdown()
            self._server = None
        self._board = Board()

    def __enter__(self):
        self._start()
        return self

    def __exit__(self, *exc):
        self.close()

    def __deepcopy__(self, memo):  # one server per person: clones of a cleaner share it
        return self

    def __getstate__(self):  # a server does not pickle; it starts again at the next question
        state = self.__dict__.copy()
        state["_server"], state["_board"] = None, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._board = Board()

    def __repr__(self):
        where = "not started" if self._server is None else self._server.url.split("?")[0]
        return f"WebOracle({where})"

    def _repr_html_(self):  # Jupyter: the link, and the page inline
        url = self.url
        return (f'<p><a href="{url}" target="_blank">Open the review page</a></p>'
                f'<iframe src="{url}" width="100%" height="640" style="border:1px solid #ccc">'
                "</iframe>")

    def _announce(self):
        if getattr(self, "_announced", None) == self._server.url:
            return
        self._announced = self._server.url
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display

            shell = get_ipython()
        except ImportError:
            shell = None
        if shell is not None and hasattr(shell, "kernel"):
            # the cell blocks while the cleaner waits: the page talks to the server over HTTP
            display(HTML(self._repr_html_()))
        self.print_fn(f"Review the questions at {self._server.url}")

    def review_finished(self, n_questions):
        """Told by the cleaner when its run ends: the page says so."""
        self._board.end(f"the cleaner finished after {n_questions} question(s)")

    # ------------------------------------------------------------ one question
    def query(self, X, y, **context):
        classes = np.asarray(self.classes if self.classes is not None
                             else context.get("classes"))
        if classes.ndim == 0:
            raise ValueError("WebOracle needs the classes (pass classes=...).")
        self._start()
        self._announce()
        board = self._board
        if board.closed is not None:
            board.closed = None  # a new run of questions
        n = len(y)
        by_text = {str(c): c for c in classes}
        at = _context_reader(context, n)
        question = board.open({
            "id": uuid.uuid4().hex,
            "numbers": [None if v is None else int(v) for v in at("question_numbers")],
            "budget": None if context.get("budget") is None else int(context["budget"]),
            "classes": list(by_text),
            "rows": [{
                "row_id": None if at("row_ids")[i] is None else str(_row_key(at("row_ids")[i])),
                "role": at("role")[i] or "candidate",
                "view": row_view(X[i], at("row_ids")[i], data=self.data,
                                 feature_names=self.feature_names,
                                 image_shape=self.image_shape),
                "given": str(y[i]),
                "predicted": _text(at("predicted")[i]),
                "suggested": _text(at("suggested")[i]),
                "score": _number(at("scores")[i]),
                "answer": None,
            } for i in range(n)],
            "order": [],
        })
        answers = [None] * n  # None: not answered yet
        commit, retract = context.get("record_answer"), context.get("retract_answer")
        waited = time.monotonic()
        try:
            while True:
                if board.stop_requested:
                    board.stop_requested = False
                    raise OracleStop("stopped in the browser",
                                     [SKIP if a is None else a for a in answers])
                if self.timeout is not None and time.monotonic() - waited > self.timeout:
                    raise OracleStop(f"no answer in {self.timeout:g} s",
                                     [SKIP if a is None else a for a in answers])
                try:
                    kind, payload, reply = board.next_event(POLL)
                except Empty:
                    continue
                if kind == "stop":
                    continue  # the flag above, read at the top of the loop
                try:
                    status, body, done = self._handle(kind, payload, question, answers, y,
                                                      by_text, commit, retract)
                except Exception as exc:  # the journal failed, say: nothing was applied
                    status, body, done = 500, {"error": f"The answer could not be saved "
                                                        f"({type(exc).__name__}: {exc}); "
                                                        "nothing was changed."}, False
                reply.put((status, body))
                if done:
                    return np.asarray([_row_key(a) if a is not SKIP else a for a in answers],
                                      dtype=object)
        finally:
            changed = [[question["rows"][i]["row_id"], str(y[i]), str(a)]
                       for i, a in enumerate(answers)
                       if a is not None and a is not SKIP and str(a) != str(y[i])]
            board.close_question(changed)
            board.n_answered += sum(a is not None for a in answers)

    def _handle(self, kind, payload, question, answers, y, by_text, commit, retract):
        """One request on the open question: ``(status, body, question_done)``."""
        if payload.get("question") != question["id"]:
            return 409, {"error": "That question is no longer open; the page shows the "
                                  "current one."}, False
        if kind == "send":
            missing = [i for i, a in enumerate(answers) if a is None]
            if missing:
                return 409, {"error": f"{len(missing)} row(s) of this question are not "
                                      "answered yet."}, False
            return 200, {"ok": True}, True
        if kind == "undo":
            if not question["order"]:
                return 409, {"error": "Nothing to undo in this question."}, False
            j = question["order"][-1]
            if retract is not None:
                retract(j)
            answers[j] = None
            self._board.update(lambda q: (q["order"].pop(), q["rows"][j].update(answer=None)))
            return 200, {"ok": True}, False
        j = payload.get("row")
        if not isinstance(j, int) or not 0 <= j < len(answers):
            return 400, {"error": f"No row {j!r} in this question."}, False
        if answers[j] is not None:
            return 409, {"error": "This row is already answered (in another tab?); undo it "
                                  "first to change it."}, False
        how = payload.get("command")
        row = question["rows"][j]
        if how is None:
            text = payload.get("label")
            if not isinstance(text, str) or text not in by_text:
                return 400, {"error": f"{text!r} is not a class; the classes are "
                                      f"{list(by_text)}."}, False
            label, how = by_text[text], "label"
        elif how == "accept":
            label = by_text.get(row["suggested"] or row["given"], y[j])
        elif how == "keep":
            label = y[j]
        elif how == "skip":
            label = SKIP
        else:
            return 400, {"error": f"Unknown command {how!r}; use one of {list(COMMANDS)}."}, False
        if label is not SKIP and commit is not None:
            commit(j, label)  # on disk before the page hears "saved"
        answers[j] = label
        shown = {"label": None if label is SKIP else str(label), "how": how}
        self._board.update(lambda q: (q["order"].append(j), q["rows"][j].update(answer=shown)))
        return 200, {"ok": True}, False


def _context_reader(context, n):
    """``at(key)`` → a list of ``n`` values of a per-row context entry (``None`` if absent)."""
    def at(key):
        val = context.get(key)
        if val is None:
            return [None] * n
        if isinstance(val, str):
            return [val] * n
        return list(np.asarray(val, dtype=object).ravel()[:n])
    return at


def _text(v):
    return None if v is None else str(_row_key(v))


def _number(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
