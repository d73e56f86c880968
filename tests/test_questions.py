"""Unit tests for skclean.questions: answers, the journal, the questioner and rollback."""

import copy
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from skclean.questions import (
    REPORT_COLUMNS,
    SKIP,
    Journal,
    JournalConflict,
    OracleError,
    OracleStop,
    Questioner,
    check_answer,
    query_oracle,
    row_fingerprint,
    transaction,
)

CLASSES = np.array([0, 1, 2])
X4 = np.arange(12, dtype=float).reshape(4, 3)  # four rows with distinct fingerprints
Y4 = np.array([0, 1, 2, 0])
FP = [row_fingerprint(x) for x in X4]


class Spy:
    """An oracle answering from a table by row id; it keeps every call's context."""

    name = "spy"

    def __init__(self, answers, votes=None):
        self.answers, self.votes, self.calls = answers, votes, []

    def __call__(self, X, y, **ctx):
        self.calls.append({"X": np.array(X), "y": np.array(y), **ctx})
        if self.votes is not None:
            self.last_votes_ = self.votes
        return [self.answers[r] for r in ctx["row_ids"]]


def _raising(exc):
    def oracle(X, y, **ctx):
        raise exc
    return oracle


# --------------------------------------------------------------------------- check_answer
def test_check_answer_valid_labels_keep_the_classes_dtype():
    labels, skipped = check_answer([2, np.int64(0), np.int32(1), 1.0], 4, CLASSES)
    assert labels.tolist() == [2, 0, 1, 1] and labels.dtype == CLASSES.dtype
    assert skipped.tolist() == [False] * 4
    classes = np.array(["a", "long_label"])  # classes[0] is short: no truncation to it
    labels, _ = check_answer([np.str_("long_label"), "a"], 2, classes)
    assert labels.tolist() == ["long_label", "a"]
    labels, _ = check_answer(["long_label"], 1, classes.astype(object))
    assert labels.tolist() == ["long_label"]
    assert check_answer([], 0, CLASSES)[0].tolist() == []


def test_check_answer_skip_and_scalar_for_one_row():
    labels, skipped = check_answer([SKIP, 2, SKIP], 3, CLASSES)
    assert skipped.tolist() == [True, False, True] and labels[1] == 2
    assert check_answer(2, 1, CLASSES)[0].tolist() == [2]
    assert check_answer("b", 1, ["a", "b"])[0].tolist() == ["b"]
    assert check_answer(SKIP, 1, CLASSES)[1].tolist() == [True]
    assert copy.deepcopy(SKIP) is SKIP and pickle.loads(pickle.dumps(SKIP)) is SKIP


@pytest.mark.parametrize("answer, n, message", [
    (None, 2, "The oracle returned None; it must return one label per queried row (2)"),
    ([0, 1], 3, "expected 3, got an answer of shape (2,)"),
    (1, 2, "expected 2, got an answer of shape (1,)"),
    (np.zeros((2, 1), int), 2, "expected 2, got an answer of shape (2, 1)"),
    ([0, 9, 9, "x"], 4, "unknown label(s) [9, 'x']; known classes are [0, 1, 2]"),
    (["1"], 1, "unknown label(s) ['1']"),  # a string is not the int class 1
    ([0, None], 2, "unknown label(s) ['None']"),
    ([1.5], 1, "unknown label(s) [1.5]"),
])
def test_check_answer_faults_name_the_problem(answer, n, message):
    with pytest.raises(OracleError, match=re.escape(message)):
        check_answer(answer, n, CLASSES)


def test_check_answer_names_who_answered():
    with pytest.raises(OracleError, match=r"^Annotator 3 answered unknown label\(s\) \[7\]"):
        check_answer([7], 1, CLASSES, who="Annotator 3")


# --------------------------------------------------------------------------- query_oracle
def test_query_oracle_skipped_rows_keep_their_label():
    out = query_oracle(lambda X, y, **c: [SKIP, 2, SKIP], X4[:3], np.array([1, 0, 2]), CLASSES)
    assert out.tolist() == [1, 2, 2]
    out = query_oracle(lambda X, y, **c: [SKIP, "dog"], X4[:2], np.array(["dog", "cat"]),
                       ["cat", "dog"])
    assert out.tolist() == ["dog", "dog"]


def test_query_oracle_wraps_errors_and_passes_stops_through():
    def broken(X, y, **c):
        raise ValueError("bad row")

    with pytest.raises(OracleError, match="The oracle raised ValueError: bad row") as info:
        query_oracle(broken, X4[:1], Y4[:1], CLASSES)
    assert isinstance(info.value.__cause__, ValueError)
    stop = OracleStop("bye", answers=[1])
    with pytest.raises(OracleStop) as info:
        query_oracle(_raising(stop), X4[:1], Y4[:1], CLASSES)
    assert info.value is stop and info.value.answers == [1] and str(info.value) == "bye"
    with pytest.raises(KeyboardInterrupt):
        query_oracle(_raising(KeyboardInterrupt()), X4[:1], Y4[:1], CLASSES)


# --------------------------------------------------------------------------- journal
@pytest.fixture(params=["memory", "file"])
def journal(request, tmp_path):
    return Journal(None if request.param == "memory" else tmp_path / "answers.sqlite")


def test_journal_record_then_lookup(journal):
    journal.record([{"row_id": 1, "fingerprint": "fa", "answer": np.int64(2)},
                    {"row_id": "1", "fingerprint": "fa", "answer": "x"}])
    assert len(journal) == 2  # 1 and "1" are different rows
    hit = journal.lookup(1, "fa")
    assert hit == 2 and type(hit) is int
    assert journal.lookup(np.int64(1), "fa") == 2  # a numpy id is the same row
    assert journal.lookup("1", "fa") == "x"
    assert journal.lookup(5, "fz") is None
    journal.record([{"row_id": 5, "fingerprint": "old", "answer": 0}])
    with pytest.raises(JournalConflict, match="row id 5 given for other values"):
        journal.lookup(5, "new")  # other values under the same id: never reused, never hidden
    assert journal.lookup(6, "old") is None  # the same values under another id: not reused
    assert len(journal) == 3


def test_journal_file_persists_across_instances(tmp_path):
    path = tmp_path / "answers.sqlite"
    first = Journal(path)
    first.record([{"row_id": "a", "fingerprint": "fa", "answer": "cat", "role": "suspicious",
                   "given": np.str_("dog"), "suggested": None, "annotator": "ann"}])
    first.record([{"row_id": 3, "fingerprint": "f3", "answer": 0},
                  {"row_id": 3, "fingerprint": "f3", "answer": 2}])  # the later answer wins
    again = Journal(str(path))
    assert len(again) == 2 and again.path == str(path)
    assert again.lookup("a", "fa") == "cat" and again.lookup(3, "f3") == 2
    assert repr(again) == f"Journal({str(path)!r}, 2 answers)"
    assert repr(Journal()) == "Journal('memory', 0 answers)"


def test_journal_rejects_a_file_that_is_not_a_journal(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not answers\n" * 100)
    with pytest.raises(ValueError, match=re.escape(f"journal={str(path)!r} is not a readable "
                                                   "skclean journal")):
        Journal(path)


def test_journal_pickles_and_reconnects_and_is_never_deep_copied(journal):
    journal.record([{"row_id": 0, "fingerprint": "f0", "answer": 1}])
    clone = pickle.loads(pickle.dumps(journal))
    assert clone.path == journal.path and clone.lookup(0, "f0") == 1
    clone.record([{"row_id": 1, "fingerprint": "f1", "answer": 2}])
    if journal.path is not None:  # the clone writes to the same file
        assert Journal(journal.path).lookup(1, "f1") == 2
    assert copy.deepcopy(journal) is journal
    assert copy.deepcopy({"j": journal})["j"] is journal


# --------------------------------------------------------------------------- Questioner
def test_ask_records_row_ids_roles_and_report():
    q = Questioner(CLASSES, Journal())
    spy = Spy({10: 2, 11: SKIP, 12: 1})
    labels, skipped, votes = q.ask(
        spy, X4[:3], Y4[:3], [10, 11, 12], role=["suspicious", "counterexample", "suspicious"],
        suggested=[2, 2, 2], scores=[0.5, 0.25, 0.125],
        note={"round": 3, "flag": np.array([True, False, True])})
    assert labels.tolist() == [2, 1, 1] and skipped.tolist() == [False, True, False]
    assert votes is None and q.n_questions == 1 and not q.stopped
    (call,) = spy.calls
    assert call["row_ids"] == [10, 11, 12] and call["suggested"].tolist() == [2, 2, 2]
    assert call["role"].tolist() == ["suspicious", "counterexample", "suspicious"]
    assert call["classes"] is q.classes and "question_numbers" not in call
    df = q.report()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == REPORT_COLUMNS + ["flag", "round", "changed"]
    assert df["row_id"].tolist() == [10, 11, 12] and df["question"].tolist() == [1, 1, 1]
    assert df["role"].tolist() == ["suspicious", "counterexample", "suspicious"]
    assert df["given"].tolist() == [0, 1, 2] and df["suggested"].tolist() == [2, 2, 2]
    assert df["answer"].isna().tolist() == [False, True, False]  # no answer: skipped
    assert df["answer"][[0, 2]].tolist() == [2, 1] and df["applied"].tolist() == [2, 1, 1]
    assert df["skipped"].tolist() == [False, True, False]
    assert df["changed"].tolist() == [True, False, True]
    assert df["score"].tolist() == [0.5, 0.25, 0.125]
    assert df["annotator"].tolist() == ["spy"] * 3 and not df["from_journal"].any()
    assert df["flag"].tolist() == [True, False, True] and df["round"].tolist() == [3, 3, 3]
    assert str(df["time"].dt.tz) == "UTC"
    # only the answered rows are journaled, under their ids and values
    assert len(q.journal) == 2
    assert q.journal.lookup(10, FP[0]) == 2 and q.journal.lookup(12, FP[2]) == 1
    assert q.journal.lookup(11, FP[1]) is None


def test_replay_from_the_journal_asks_only_unknown_rows(tmp_path):
    path = tmp_path / "answers.sqlite"
    Questioner(CLASSES, Journal(path)).ask(Spy({0: 2, 1: 0}), X4[:2], Y4[:2], [0, 1], role="r")
    q = Questioner(CLASSES, Journal(path))  # a resumed run: a new journal on the same file
    spy = Spy({0: 1, 1: 1, 2: 1, 3: 2})
    labels, skipped, _ = q.ask(spy, X4, Y4, np.arange(4), role="r")
    assert labels.tolist() == [2, 0, 1, 2] and not skipped.any()
    (call,) = spy.calls
    assert call["row_ids"] == [2, 3] and np.array_equal(call["X"], X4[2:])
    df = q.report()
    assert df["from_journal"].tolist() == [True, True, False, False]
    assert df["annotator"].tolist() == ["journal", "journal", "spy", "spy"]
    q.ask(spy, X4, Y4, [0, 1, 2, 3], role="r")  # everything is known now
    assert len(spy.calls) == 1 and q.n_questions == 2
    with pytest.raises(JournalConflict):  # same ids, other values: neither reused nor hidden
        q.ask(spy, X4[:2] + 100, Y4[:2], [0, 1], role="r")
    assert len(spy.calls) == 1 and q.n_questions == 2  # nothing asked, nothing recorded


@pytest.mark.parametrize("oracle, error", [
    (lambda X, y, **c: [0, 7], OracleError),
    (lambda X, y, **c: [0], OracleError),
    (_raising(ValueError("no")), OracleError),
    (_raising(KeyboardInterrupt()), KeyboardInterrupt),
    (_raising(OracleStop("bye", answers=[0, 1, 2])), OracleError),  # too many answers
    (Spy({0: 1, 1: 1}, votes=np.array([[1, 1], [1, 5]], dtype=object)), OracleError),
])
def test_a_failed_question_records_and_journals_nothing(oracle, error):
    q = Questioner(CLASSES, Journal())
    with pytest.raises(error):
        q.ask(oracle, X4[:2], Y4[:2], [0, 1], role="r")
    assert q.records == [] and len(q.journal) == 0 and q.n_questions == 0 and not q.stopped


def test_oracle_stop_keeps_the_answers_given():
    q = Questioner(CLASSES, Journal())
    labels, skipped, _ = q.ask(_raising(OracleStop("bye", answers=[2, SKIP, SKIP])), X4[:3],
                               Y4[:3], [0, 1, 2], role="r")
    assert labels.tolist() == [2, 1, 2] and skipped.tolist() == [False, True, True]
    assert q.stopped and len(q.journal) == 1 and q.journal.lookup(0, FP[0]) == 2
    assert q.report()["skipped"].tolist() == [False, True, True]
    q = Questioner(CLASSES, Journal())
    _, skipped, _ = q.ask(_raising(OracleStop()), X4[:2], Y4[:2], [0, 1], role="r")
    assert skipped.tolist() == [True, True] and q.stopped and len(q.journal) == 0


def test_extra_gives_question_numbers():
    spy = Spy({0: 0, 1: 0, 2: 0})
    Questioner(CLASSES, Journal()).ask(spy, X4[:3], Y4[:3], [0, 1, 2], role="r",
                                       extra={"n_asked": 5, "budget": 20})
    (call,) = spy.calls
    assert call["question_numbers"].tolist() == [6, 7, 8]
    assert call["budget"] == 20 and call["n_asked"] == 5


def test_votes_are_validated_and_returned():
    classes = np.array(["cat", "dog"])
    spy = Spy({0: "dog", 1: "cat", 2: "cat"},
              votes=np.array([["dog", SKIP], [np.str_("cat"), "cat"]], dtype=object))
    q = Questioner(classes, Journal())
    labels, _, votes = q.ask(spy, X4[:2], np.array(["cat", "cat"]), [0, 1], role="r")
    assert labels.tolist() == ["dog", "cat"]
    assert votes.shape == (2, 2) and votes.tolist() == [["dog", None], ["cat", "cat"]]
    spy.votes = np.array([["cat", "bird"]], dtype=object)
    with pytest.raises(OracleError, match=re.escape("Annotator 1 answered unknown label(s) "
                                                    "['bird']")):
        q.ask(spy, X4[2:3], np.array(["cat"]), [2], role="r")


def test_decide_records_without_asking():
    q = Questioner(CLASSES, Journal())
    q.decide([7, 8], [0, 1], [2, 1], role="candidate", decided_by="INFL suggestion",
             suggested=[2, 1], scores=[1.0, 2.0])
    df = q.report()
    assert df["row_id"].tolist() == [7, 8] and df["question"].tolist() == [1, 1]
    assert df["annotator"].tolist() == ["INFL suggestion"] * 2
    assert df["answer"].tolist() == [None, None] and df["applied"].tolist() == [2, 1]
    assert df["changed"].tolist() == [True, False] and not df["skipped"].any()
    assert not df["from_journal"].any() and df["score"].tolist() == [1.0, 2.0]
    assert len(q.journal) == 0 and q.n_questions == 1


def test_set_applied_changes_the_last_question_only():
    q = Questioner(CLASSES, Journal())
    q.ask(Spy({0: 1, 1: 1}), X4[:2], Y4[:2], [0, 1], role="r")
    q.ask(Spy({2: SKIP, 3: 2}), X4[2:], Y4[2:], [2, 3], role="r")
    q.set_applied([0, 0])
    df = q.report()
    assert df["applied"].tolist() == [1, 1, 2, 0]  # the skipped row keeps its label
    assert df["answer"].isna().tolist() == [False, False, True, False]
    assert df["changed"].tolist() == [True, False, False, False]  # row 3: given 0, applied 0
    assert q.journal.lookup(3, FP[3]) == 2  # the journal keeps what the oracle said


# --------------------------------------------------------------------------- transaction
class Toy(BaseEstimator):
    def __init__(self, oracle=None, alpha=1.0):
        self.oracle = oracle
        self.alpha = alpha


def _fitted_toy():
    toy = Toy(oracle=Spy({0: 1}), alpha=1.0)
    toy.coef_, toy.info_ = np.array([1.0, 2.0]), {"n": 1}
    toy.cache_, toy.records_ = np.ones(3), [1, 2]
    toy.questioner_ = Questioner(CLASSES, Journal())
    return toy


def _mutate(toy):
    toy.alpha = 5.0
    toy.coef_[0] = 99.0
    toy.info_["n"] = 2
    toy.new_ = "x"
    toy.records_.append(3)
    toy.cache_ = np.zeros(1)  # shared: replaced, never modified in place
    toy.questioner_.ask(toy.oracle, X4[:1], Y4[:1], [0], role="r")


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_transaction_rolls_back_on_any_exception(exc):
    toy = _fitted_toy()
    oracle, cache, records, journal = toy.oracle, toy.cache_, toy.records_, toy.questioner_.journal
    resumable = Journal()
    with pytest.raises(exc):
        with transaction(toy, shared=("cache_",), append_only=("records_",)):
            _mutate(toy)
            toy._resumable_journal = resumable
            raise exc("boom")
    assert toy.alpha == 1.0 and toy.coef_.tolist() == [1.0, 2.0] and toy.info_ == {"n": 1}
    assert not hasattr(toy, "new_")
    assert toy.oracle is oracle and toy.cache_ is cache and toy.cache_.tolist() == [1, 1, 1]
    assert toy.records_ is records and records == [1, 2]
    assert toy._resumable_journal is resumable
    assert toy.questioner_.records == [] and toy.questioner_.n_questions == 0
    assert toy.questioner_.journal is journal and len(journal) == 1  # answers stay journaled


def test_transaction_without_resumable_journal_and_on_success():
    toy = _fitted_toy()
    with pytest.raises(RuntimeError):
        with transaction(toy):
            toy.coef_[1] = -1.0
            raise RuntimeError
    assert toy.coef_.tolist() == [1.0, 2.0] and "_resumable_journal" not in toy.__dict__
    with transaction(toy, shared=("cache_",), append_only=("records_",)):
        _mutate(toy)
    assert toy.alpha == 5.0 and toy.coef_.tolist() == [99.0, 2.0] and toy.info_ == {"n": 2}
    assert toy.new_ == "x" and toy.records_ == [1, 2, 3] and toy.cache_.tolist() == [0.0]
    assert toy.questioner_.n_questions == 1 and len(toy.questioner_.records) == 1


def test_raw_row_fingerprints_hash_rows_as_given():
    from skclean.questions import raw_row_fingerprints, row_fingerprint

    X = np.array([[1.0, -0.0], [2.5, 3.0]])
    # rows of numbers: as row_fingerprint hashes them, from an array, a frame or CSR alike
    want = [row_fingerprint(X[0]), row_fingerprint(X[1])]
    import scipy.sparse as sp

    for form in (X, pd.DataFrame(X, columns=["a", "b"]), sp.csr_matrix(X)):
        assert raw_row_fingerprints(form) == want
    frame = pd.DataFrame({"n": [1, 1, 1, 2], "s": ["x", "x", "y", "x"]})
    fp = raw_row_fingerprints(frame)
    assert fp[0] == fp[1] and len({fp[0], fp[2], fp[3]}) == 3  # equal rows alike, others not
    texts = raw_row_fingerprints(["a text", "a text", "another", "1"])
    assert texts[0] == texts[1] != texts[2] and texts[3] != raw_row_fingerprints(["1.0"])[0]
    assert texts[0] == raw_row_fingerprints(pd.Series(["a text"]))[0]
