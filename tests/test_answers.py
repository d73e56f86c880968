"""A person's answers: applied to the row they were given for, kept the moment they are given.

Each test reproduces a way answers were lost or misapplied (issue #25) and
checks the figure that matters: answers applied to rows never asked about,
answers typed and then lost.
"""

import pickle
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skclean import ChefCleaner, ConsoleOracle, SimulatedOracle
from skclean.questions import SKIP, Journal, JournalConflict, OracleError, Questioner

CLASSES = np.array([0, 1, 2])


def test_duplicate_rows_are_never_answered_for_each_other():
    """10 distinct rows x 4 copies, every label wrong: each copy is asked, none is guessed."""
    base = np.arange(30, dtype=float).reshape(10, 3)
    X = np.repeat(base, 4, axis=0)
    truth = np.tile([0, 1, 2, 0], 10)  # copies of one row disagree: conflicting duplicates
    given = (truth + 1) % 3
    q = Questioner(CLASSES, Journal())
    asked = []

    def annotator(Xq, yq, row_ids, **ctx):
        asked.extend(row_ids)
        return truth[row_ids]

    applied = np.array([q.ask(annotator, X[i:i + 1], given[i:i + 1], [i], role="r")[0][0]
                        for i in range(len(X))])
    assert asked == list(range(40))  # no answer reused for a look-alike row
    np.testing.assert_array_equal(applied, truth)
    assert not q.report()["from_journal"].any()


def test_rows_whose_ids_differ_only_past_float32_are_different_rows():
    ids_as_values = np.array([[1e9], [1e9 + 1]])  # the same float32
    q = Questioner(CLASSES, Journal())
    q.ask(lambda X, y, **c: [2], ids_as_values[:1], np.array([0]), [0], role="r")
    with pytest.raises(JournalConflict, match="row id 0"):
        q.ask(lambda X, y, **c: [1], ids_as_values[1:], np.array([0]), [0], role="r")


def test_chef_on_categorical_duplicates_changes_only_rows_it_asked_about():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(1200, 4)).astype(float)  # 81 distinct rows: many duplicates
    truth = (X.sum(1) + rng.randint(0, 2, 1200)) % 3  # duplicates may differ in truth
    noisy = truth.copy()
    flip = rng.rand(1200) < 0.25
    noisy[flip] = (noisy[flip] + 1) % 3
    trusted = np.zeros(1200, dtype=bool)
    trusted[:90] = True
    noisy[trusted] = truth[trusted]

    shown = set()

    def by_row_id(Xq, yq, row_ids, **ctx):  # a perfect annotator who knows every row
        shown.update(int(r) for r in row_ids)
        return truth[np.asarray(row_ids, dtype=int)]

    c = ChefCleaner(LogisticRegression(max_iter=1000), oracle=by_row_id, budget=60,
                    batch_size=10, random_state=0)
    _, cleaned = c.fit_resample(X, noisy, trusted_mask=trusted)
    changed = set(np.flatnonzero(cleaned != noisy).tolist())
    assert len(shown) == 60 and changed  # it asked, and fixed labels
    assert changed <= shown  # nothing applied to a row the annotator never saw
    assert not c.cleaning_report()["from_journal"].any()
    assert np.all(cleaned[list(changed)] == truth[list(changed)])


def test_each_typed_answer_is_journaled_before_the_next_question(tmp_path):
    """Ctrl-C after 3 of 5 answers of one question: the 3 are in the file."""
    path = tmp_path / "answers.sqlite"
    typed = iter(["1", "keep", "2"])

    def person(prompt):
        try:
            return next(typed)
        except StopIteration:
            raise KeyboardInterrupt from None

    oracle = ConsoleOracle(input_fn=person, print_fn=lambda s: None)
    X = np.arange(15, dtype=float).reshape(5, 3)
    with pytest.raises(KeyboardInterrupt):
        Questioner(CLASSES, Journal(path)).ask(oracle, X, np.zeros(5, int), list("abcde"),
                                               role="r")
    again = Journal(path)
    assert len(again) == 3
    q = Questioner(CLASSES, again)
    rest = []
    labels, _, _ = q.ask(lambda Xq, yq, row_ids, **c: rest.extend(row_ids) or [2, 2], X,
                         np.zeros(5, int), list("abcde"), role="r")
    assert rest == ["d", "e"] and labels.tolist() == [1, 0, 2, 2, 2]


def test_a_series_answer_is_matched_by_its_index():
    q = Questioner(CLASSES, Journal())
    X = np.arange(6, dtype=float).reshape(3, 2)

    def reversed_series(Xq, yq, row_ids, **ctx):
        return pd.Series([2, 1, 0], index=row_ids[::-1])  # row "c" -> 2, "b" -> 1, "a" -> 0

    labels, _, _ = q.ask(reversed_series, X, np.zeros(3, int), ["a", "b", "c"], role="r")
    assert labels.tolist() == [0, 1, 2]
    labels, _, _ = q.ask(lambda Xq, yq, **c: pd.Series([1, 1, 2]), X + 10, np.zeros(3, int),
                         ["d", "e", "f"], role="r")  # a plain 0..n-1 index: by position
    assert labels.tolist() == [1, 1, 2]
    with pytest.raises(OracleError, match="index is neither the row ids"):
        q.ask(lambda Xq, yq, **c: pd.Series([1, 1, 2], index=[7, 8, 9]), X + 20,
              np.zeros(3, int), ["g", "h", "i"], role="r")


def test_classes_named_like_commands_and_control_characters():
    shown = []
    typed = iter(["keep", ":keep", "s", ":skip"])
    oracle = ConsoleOracle(input_fn=lambda p: shown.append(p) or next(typed),
                           print_fn=shown.append, data=pd.DataFrame({"note": ["\x1b[2Jhi"] * 4}))
    classes = np.array(["keep", "s", "other"])
    answers = oracle(np.zeros((4, 1)), np.array(["other"] * 4), classes=classes,
                     row_ids=[0, 1, 2, 3])
    assert answers.tolist() == ["keep", "other", "s", SKIP]
    prompts = [s for s in shown if "Enter =" in s]
    assert len(prompts) == 4 and "':keep'" in prompts[0]  # the commands that stay reachable
    assert not any("\x1b" in str(s) for s in shown) and any("\\x1b[2Jhi" in s for s in shown)


def test_a_foreign_or_broken_file_is_refused_and_left_untouched(tmp_path):
    foreign = tmp_path / "shop.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE orders (id INTEGER)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(ValueError, match="not an skclean journal.*left untouched"):
        Journal(foreign)
    assert foreign.read_bytes() == before

    text = tmp_path / "notes.txt"
    text.write_text("not a database at all" * 100)
    with pytest.raises(ValueError, match="not a readable skclean journal"):
        Journal(text)

    broken = tmp_path / "broken.sqlite"
    Journal(broken).record([{"row_id": 1, "fingerprint": "f", "answer": 2}])
    con = sqlite3.connect(broken)
    con.execute("UPDATE answers SET answer = '{not json'")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="not a readable skclean journal.*JSONDecodeError"):
        Journal(broken)
    with pytest.raises(ValueError, match="names no file"):
        Journal("")


def test_an_unpickled_journal_whose_file_is_gone_writes_its_answers_back(tmp_path):
    path = tmp_path / "run" / "answers.sqlite"
    path.parent.mkdir()
    j = Journal(path)
    j.record([{"row_id": "a", "fingerprint": "fa", "answer": 2},
              {"row_id": 3, "fingerprint": "f3", "answer": 1}])
    blob = pickle.dumps(j)
    j.close()
    path.unlink()
    with pytest.warns(UserWarning, match="is gone; it is written again from the 2 answer"):
        back = pickle.loads(blob)
    assert back.lookup("a", "fa") == 2 and back.lookup(3, "f3") == 1
    back.close()
    again = Journal(path)  # the file holds them again
    assert again.lookup("a", "fa") == 2 and again.lookup(3, "f3") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(again))  # the file is there: nothing to say


def test_a_refit_that_fails_validation_leaves_the_last_fit_whole():
    from skclean import CincerCleaner
    from skclean.datasets import load_dataset

    from ._state import state_of

    X, X_t, y, y_t = load_dataset("wine", random_state=0)
    lr = LogisticRegression(max_iter=1000)
    chef = ChefCleaner(lr, label_source="suggested", budget=4, batch_size=2).fit(
        X, y, X_trusted=X_t, y_trusted=y_t)
    cincer = CincerCleaner(lr, oracle=SimulatedOracle(X, y)).fit(X[:60], y[:60])
    for est, bad in [
        (chef, lambda: chef.fit(X[:, :5], y, X_trusted=X_t, y_trusted=y_t)),  # 13 features
        (chef, lambda: chef.fit(X[:, :5], y, X_trusted=X_t[:, :5], y_trusted=y_t + 7)),
        (cincer, lambda: cincer.fit(X[:60, :5], y[:60], classes=[0, 1])),
    ]:
        before = state_of(est)
        with pytest.raises(ValueError):
            bad()
        assert state_of(est) == before  # n_features_in_, classes_, model: all as they were
        assert est.n_features_in_ == 13


@pytest.mark.parametrize("name", ["chef", "cincer", "model_based", "review"])
def test_every_cleaner_changes_only_rows_the_annotator_was_shown(name):
    """Exact duplicates with different truths, and copies equal in float32 only."""
    from skclean import CincerCleaner, ClassBasedIFDetector, ModelBasedDetector, ReviewCleaner

    rng = np.random.RandomState(1)
    n = 300  # 81 distinct rows: every one repeated, with different truths
    X = rng.randint(0, 3, size=(n, 4)).astype(float)
    X[rng.rand(n) < 0.2, 0] += 1e-9
    truth = ((X.round().sum(1) + rng.randint(0, 2, n)) % 3).astype(int)
    noisy = truth.copy()
    flip = rng.rand(n) < 0.25
    noisy[flip] = (noisy[flip] + 1) % 3
    trusted = np.arange(n) < 60
    noisy[trusted] = truth[trusted]
    shown = set()

    def annotator(Xq, yq, row_ids, **ctx):
        shown.update(int(r) for r in row_ids)
        return truth[np.asarray(row_ids, dtype=int)]

    lr = LogisticRegression(max_iter=1000)
    cleaner = {
        "chef": lambda: ChefCleaner(lr, oracle=annotator, budget=40, batch_size=10),
        "cincer": lambda: CincerCleaner(lr, oracle=annotator, bootstrap_size=200),
        "model_based": lambda: ModelBasedDetector(lr, oracle=annotator, n_rounds=3,
                                                  query_size=20, random_state=0),
        "review": lambda: ReviewCleaner(ClassBasedIFDetector(lr), oracle=annotator,
                                        budget=40, batch_size=10),
    }[name]()
    params = {} if name == "cincer" else {"trusted_mask": trusted}
    _, cleaned = cleaner.fit_resample(X, noisy, **params)
    changed = set(np.flatnonzero(np.asarray(cleaned) != noisy).tolist())
    assert shown and changed <= shown
    assert np.all(np.asarray(cleaned)[list(changed)] == truth[list(changed)])


def test_an_annotator_vote_is_not_journaled_as_the_answer(tmp_path):
    """A person votes, then the next annotator is interrupted: no single vote became an
    answer in the journal (a resumed run would have applied it as the row's label)."""
    from skclean import MajorityVoteOracle

    def interrupted(X, y, **context):
        raise KeyboardInterrupt

    person = ConsoleOracle(input_fn=lambda p: "2", print_fn=lambda s: None)
    vote = MajorityVoteOracle([person, interrupted, lambda X, y, **c: np.ones(len(y), int)])
    journal = Journal(tmp_path / "votes.sqlite")
    with pytest.raises(KeyboardInterrupt):
        Questioner(CLASSES, journal).ask(vote, np.zeros((2, 1)) + [[0], [1]],
                                         np.zeros(2, int), ["a", "b"], role="r")
    assert len(Journal(tmp_path / "votes.sqlite")) == 0


def test_a_budgeted_person_answers_within_the_budget_and_each_answer_is_kept(tmp_path):
    from skclean.oracles import BudgetedOracle

    typed = iter(["1", "2", "keep", "1", "1"])
    person = ConsoleOracle(input_fn=lambda p: next(typed), print_fn=lambda s: None)
    oracle = BudgetedOracle(person, budget=3)
    journal = Journal(tmp_path / "b.sqlite")
    q = Questioner(CLASSES, journal)
    X = np.arange(10, dtype=float).reshape(5, 2)
    labels, skipped, _ = q.ask(oracle, X, np.zeros(5, int), list("abcde"), role="r",
                               suggested=np.full(5, 2))
    assert labels[:3].tolist() == [1, 2, 0] and skipped.tolist() == [False] * 3 + [True] * 2
    assert q.stopped and oracle.n_asked_ == 3 and len(Journal(tmp_path / "b.sqlite")) == 3
    _, skipped, _ = q.ask(oracle, X + 100, np.zeros(5, int), list("fghij"), role="r")
    assert skipped.all() and oracle.n_asked_ == 3  # the budget is spent: nobody is asked


class _Counting(SimulatedOracle):
    """The truth, counting the rows it was asked about."""

    def __init__(self, X, y):
        super().__init__(X, y)
        self.asked = 0

    def __call__(self, Xq, yq, **ctx):
        self.asked += len(yq)
        return super().__call__(Xq, yq, **ctx)


def _texts(n=500):
    from skclean.datasets import flip_labels, load_docstrings

    texts, labels = load_docstrings()[:2]
    pick = np.random.RandomState(0).permutation(len(texts))[:n]
    texts, y = [texts[i] for i in pick], np.asarray(labels)[pick]
    y_in, _ = flip_labels(y, 0.2, random_state=0)
    trusted = np.zeros(n, dtype=bool)
    trusted[::8] = True
    trusted[[np.flatnonzero(y == c)[0] for c in np.unique(y)]] = True
    return texts, y, np.where(trusted, y, y_in), trusted


def _tfidf_model():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))


@pytest.mark.parametrize("name", ["chef", "review", "model_based", "cincer"])
def test_answers_about_texts_are_known_again_when_the_vocabulary_is_refitted(name, tmp_path):
    """Fit on some texts, then on more with the same journal: the Pipeline's TF-IDF is
    refitted and every transformed row moves, yet each answered row is the same row."""
    from skclean import CincerCleaner, ClassBasedIFDetector, ModelBasedDetector, ReviewCleaner

    texts, y, y_in, trusted = _texts()
    journal = tmp_path / "answers.sqlite"

    def run(n, oracle):
        part = slice(0, n)
        if name == "cincer":  # a bootstrap, then a stream: ids are positions in both runs
            c = CincerCleaner(_tfidf_model(), oracle=oracle, threshold=0.0, journal=journal,
                              random_state=0)
            c.fit(texts[:n // 2], y_in[:n // 2], classes=np.unique(y))
            return c.partial_fit(texts[n // 2:n], y_in[n // 2:n])
        if name == "chef":
            c = ChefCleaner(_tfidf_model(), oracle=oracle, budget=20, batch_size=10,
                            journal=journal, random_state=0)
        elif name == "review":
            c = ReviewCleaner(ClassBasedIFDetector(_tfidf_model(), random_state=0),
                              oracle=oracle, budget=20, batch_size=10, journal=journal)
        else:
            c = ModelBasedDetector(_tfidf_model(), oracle=oracle, n_rounds=2, query_size=10,
                                   journal=journal, random_state=0)
        return c.fit(texts[part], y_in[part], trusted_mask=trusted[part])

    first = _Counting(texts, y)
    run(300, first)
    assert first.asked > 0
    again = _Counting(texts, y)
    second = run(400, again)  # raised JournalConflict when rows were fingerprinted as TF-IDF
    records = second.questioner_.records
    replayed = sum(rec["from_journal"] for rec in records)
    assert replayed > 0 and again.asked == len(records) - replayed
