"""The question a cleaner waits on, between its thread and the page's requests.

A cleaner calls the oracle in its own thread and blocks there until the
question is answered; the page's requests arrive on the web server's
threads.  Every change goes through the cleaner's thread: a request posts an
event and waits for the reply, and the cleaner's thread validates it,
journals it (the journal's SQLite connection belongs to that thread) and only
then replies.  So when the page hears "saved", the answer is on disk; and two
tabs cannot both answer one row, because one thread decides, in order.
"""

import queue
import threading

#: Seconds a request waits for the cleaner's thread before telling the person it is busy.
REPLY_TIMEOUT = 30.0


class Busy(RuntimeError):
    """The cleaner's thread did not take the request in time (it is training a model)."""


class Board:
    """What the page reads (``snapshot``) and the channel its answers go through (``post``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events = queue.Queue()
        self._question = None  # the open question, as the page shows it
        self.history = []  # [row_id, given, answer] of every label changed so far
        self.n_answered = 0
        self.n_questions = 0
        self.closed = None  # why the review ended, once it has
        self.stop_requested = False  # set by the page at once; the cleaner stops at its turn

    # ------------------------------------------------------------- the page's side
    def snapshot(self):
        """The state the page draws: a copy, safe to serialise on another thread."""
        with self._lock:
            q = self._question
            return {
                "question": None if q is None else {**q, "rows": [dict(r) for r in q["rows"]],
                                                    "order": list(q["order"])},
                "history": [list(h) for h in self.history[-8:]],
                "n_changed": len(self.history),
                "n_answered": self.n_answered,
                "closed": self.closed,
                "stopping": self.stop_requested,
            }

    def post(self, kind, payload, timeout=REPLY_TIMEOUT):
        """Hand an event to the cleaner's thread; return its ``(status, body)`` reply."""
        if self.closed is not None:
            return 409, {"error": f"The review has ended ({self.closed})."}
        reply = queue.Queue(maxsize=1)
        self._events.put((kind, payload, reply))
        try:
            return reply.get(timeout=timeout)
        except queue.Empty:
            raise Busy("The cleaner did not take the answer in time; it is kept nowhere: "
                       "send it again.") from None

    def request_stop(self):
        """Stop now if a question is open, else at the cleaner's next question."""
        with self._lock:
            self.stop_requested = True
        self._events.put(("stop", {}, queue.Queue(maxsize=1)))  # wakes a waiting cleaner

    # ------------------------------------------------------------ the cleaner's side
    def open(self, question):
        with self._lock:
            self.n_questions += 1
            question["seq"] = self.n_questions
            self._question = question
            # events for an earlier question, left in the queue, are answered as stale
        return question

    def update(self, fn):
        """Change the open question under the lock (``fn(question)``)."""
        with self._lock:
            fn(self._question)

    def close_question(self, changed):
        with self._lock:
            self._question = None
            self.history.extend(changed)

    def next_event(self, timeout):
        """The next ``(kind, payload, reply)``; ``queue.Empty`` after ``timeout`` seconds."""
        return self._events.get(timeout=timeout)

    def end(self, why):
        with self._lock:
            self.closed = why
            self._question = None
            self.stop_requested = False  # a stop asked for this run is spent with it
        while True:  # whoever still waits hears that it ended
            try:
                _, _, reply = self._events.get_nowait()
            except queue.Empty:
                return
            reply.put((409, {"error": f"The review has ended ({why})."}))
