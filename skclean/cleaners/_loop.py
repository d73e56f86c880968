"""The one cleaning loop every interactive cleaner runs: select → ask → apply → update.

A cleaner says *what* to ask (:meth:`CleaningLoop._select` returns a
:class:`Question`, or ``None`` for a step that asks nothing) and *how* the
model follows (:meth:`CleaningLoop._update`); this base owns the rest, once:

* each step is a transaction: an oracle fault, an exception or a Ctrl-C
  anywhere in it restores the cleaner as it was after the previous step, while
  the answers already given stay journaled, so fitting again resumes without
  asking twice;
* the question goes through the questions layer (row ids, validation,
  journal, records), or is decided without asking
  (``Question.decided_by``);
* every answer lands in the same label state: ``cleaned_mask_`` (rows an
  answer fixed or confirmed), ``skipped_mask_`` (rows the oracle declined to
  judge), ``n_cleaned_`` (their count) and ``n_changed_`` (labels the
  answers changed) mean the same on every cleaner, as do ``history_`` (one
  record per step that asked) and ``cleaning_report()``;
* the loop stops when the steps run out, the cleaner says so
  (:meth:`CleaningLoop._should_stop`) or the oracle stops.
"""

import os
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..questions import majority_vote, transaction
from ._base import QuestionsMixin

#: Parameter constraints shared by the estimators that ask an oracle.
ASKING_CONSTRAINTS = {
    "oracle": [callable, None],
    "journal": [str, os.PathLike, None],
    "verbose": ["verbose"],
}

#: The docstring entry of ``journal``, the same on every estimator that asks (``{journal}``).
JOURNAL_DOC = """journal : str, path-like or None, default=None
        SQLite file where every answer is committed as it is given; a run
        started again with the same file and data reuses the answers instead
        of asking again (see :class:`~skclean.questions.Journal`).  Without
        it, answers survive an interrupted run in memory: running it again
        (``fit``, or ``partial_fit`` on the rows left) replays them."""


def with_journal_doc(cls):
    """Class decorator: put :data:`JOURNAL_DOC` in place of ``{journal}`` in the docstring."""
    cls.__doc__ = cls.__doc__.replace("{journal}", JOURNAL_DOC)
    return cls


#: The docstring entry of ``row_ids``, the same on every ``fit`` that takes it.
ROW_IDS_DOC = """row_ids : array-like of shape (n_samples,), default=None
            Your id of each row, for the questions, the journal and the report,
            when ``X`` carries none (an array; a DataFrame's index is used
            otherwise).  Ids that follow the rows through cross-validation
            folds (pass them in ``params``: they are split with ``X``) let one
            journal answer for a row in every fold."""


@dataclass
class Question:
    """One question to the oracle: rows shown together, and what the cleaner knows of them.

    ``positions`` index the cleaner's training rows (``X_``), ``-1`` for a row
    not yet among them (a stream row); ``X`` and ``given`` are the rows and
    their current labels as shown.  ``decided_by`` names a rule that answers
    instead of the oracle (its ``labels``), and ``vote=True`` makes the
    applied label the majority of the suggestion and every annotator's vote.
    """

    positions: np.ndarray
    X: np.ndarray
    given: np.ndarray
    row_ids: np.ndarray
    role: object = "candidate"
    suggested: np.ndarray | None = None
    predicted: np.ndarray | None = None
    scores: np.ndarray | None = None
    note: dict = field(default_factory=dict)
    extra: dict | None = None
    decided_by: str | None = None
    vote: bool = False


@dataclass
class Answer:
    """What came back: the labels to apply (the given one where skipped) and the raw answers."""

    labels: np.ndarray
    skipped: np.ndarray
    answers: np.ndarray | None  # the oracle's own answers (None when decided by a rule)


class CleaningLoop(QuestionsMixin):
    """Template of the interactive cleaners (CHEF rounds, CINCER's stream, detector rounds).

    Subclasses implement ``_select(step)``, ``_apply(question, answer)`` (write
    the labels into their own storage; ``positions`` may be updated there, for
    rows that join ``X_``) and ``_update(step, question, answer)`` (the model
    follows; ``question`` is ``None`` for a step that asked nothing), and may
    override ``_should_stop()`` and ``_record``.
    """

    #: Attributes a step replaces but never modifies in place: shared, not copied, by the
    #: rollback of a failed step.
    _shared_state = ()
    #: Lists a step only appends to: cut back, not copied, on a rollback.
    _append_only = ("history_",)
    #: Whether a step that asked nothing is recorded in ``history_`` too.
    _record_every_step = False
    #: What the progress bar counts: steps, or rows asked.
    _progress_unit = "step"

    # ------------------------------------------------------------------ label state
    def _init_label_state(self, n):
        self.cleaned_mask_ = np.zeros(n, dtype=bool)
        self.skipped_mask_ = np.zeros(n, dtype=bool)
        self.n_changed_ = 0
        self.history_ = []

    @property
    def n_cleaned_(self):
        """Rows whose label an answer fixed or confirmed."""
        return int(self.cleaned_mask_.sum())

    def _n_asked(self):
        return int((self.cleaned_mask_ | self.skipped_mask_).sum())

    def _mark(self, question, answer):
        """Record in the label state what ``answer`` did to the rows already in ``X_``."""
        pos = np.asarray(question.positions)
        known = pos >= 0
        done = ~answer.skipped & known
        self.cleaned_mask_[pos[done]] = True
        self.skipped_mask_[pos[answer.skipped & known]] = True
        self.n_changed_ += int(np.sum(~answer.skipped & (answer.labels != question.given)))

    # ------------------------------------------------------------------ one step
    def _ask(self, question):
        """The questions layer asks (or records a decision); votes are counted here."""
        q = self.questioner_
        if question.decided_by is not None:
            q.decide(question.row_ids, question.given, question.suggested, role=question.role,
                     decided_by=question.decided_by, suggested=question.suggested,
                     scores=question.scores, note=question.note)
            return Answer(np.asarray(question.suggested),
                          np.zeros(len(question.given), dtype=bool), None)
        answers, skipped, votes = q.ask(
            self.oracle, question.X, question.given, question.row_ids, role=question.role,
            suggested=question.suggested, predicted=question.predicted,
            scores=question.scores, note=question.note, extra=question.extra)
        if not question.vote:
            return Answer(answers, skipped, answers)
        # the suggestion votes last: ties go to the first annotator
        humans = answers[:, None].astype(object) if votes is None else votes
        labels = np.asarray(question.suggested).copy()
        for i, (h, s) in enumerate(zip(humans, question.suggested, strict=True)):
            if not skipped[i]:
                labels[i] = majority_vote([*h, s])
        q.set_applied(labels)
        return Answer(labels, skipped, answers)

    def _step(self, step):
        """Select, ask, apply, update: one step, the state changed only once answers are valid."""
        question = self._select(step)
        answer = None
        if question is not None:
            answer = self._ask(question)
            self._apply(question, answer)
            self._mark(question, answer)
        self._update(step, question, answer)
        if question is not None or self._record_every_step:
            self.history_.append(self._record(step, question, answer))
        return question

    def _record(self, step, question, answer):
        return {"row_ids": question.row_ids, "given": question.given,
                "answers": answer.answers, "labels": answer.labels, "skipped": answer.skipped}

    def _should_stop(self):
        """Checked before each step; by default, whether the oracle stopped the cleaning."""
        return self.questioner_.stopped

    def _run(self, steps, *, total=None, desc="asked", on_error=None):
        """Run ``steps`` (an iterable) through :meth:`_step`, each all or nothing.

        ``on_error(i, exc)`` may annotate an exception raised at step ``i``.
        Returns the number of steps completed.
        """
        bar = tqdm(total=total, disable=not getattr(self, "verbose", 0), desc=desc)
        done = 0
        try:
            for i, step in enumerate(steps):
                if self._should_stop():
                    break
                try:
                    # the raw rows' fingerprints only grow, and an entry too many is
                    # harmless (read by id, rewritten when the id comes again): shared
                    with transaction(self, shared=(*self._shared_state, "_raw_fingerprints"),
                                     append_only=self._append_only):
                        question = self._step(step)
                except BaseException as exc:
                    if on_error is not None:
                        on_error(i, exc)
                    raise
                done += 1
                bar.update(1 if self._progress_unit == "step" or question is None
                           else len(question.positions))
        finally:
            bar.close()
        finished = getattr(getattr(self, "oracle", None), "review_finished", None)
        if finished is not None:  # a person's page says the run is over
            finished(self.questioner_.n_questions)
        return done
