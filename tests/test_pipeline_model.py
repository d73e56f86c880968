"""A Pipeline as the model: raw rows in (texts, string columns), influence over its last step.

The agreement with the last step on transformed rows, for every estimator,
is in ``test_invariance``; here: what only raw rows exercise.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skclean import (
    ChefCleaner,
    CincerCleaner,
    ClassBasedIFDetector,
    ModelBasedDetector,
    SimulatedOracle,
    cross_fit_scores,
)
from skclean.datasets import flip_labels

TOPICS = [["matrix", "vector", "solver", "sparse", "norm", "rank", "eigen", "basis"],
          ["gene", "cell", "protein", "tissue", "enzyme", "dna", "membrane", "virus"],
          ["goal", "match", "league", "coach", "score", "player", "season", "referee"]]


@pytest.fixture(scope="module")
def texts():
    """Short documents of three topics, words shared across topics as noise."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 70)
    words = sum(TOPICS, [])
    docs = [" ".join(rng.choice(TOPICS[c], 6).tolist() + rng.choice(words, 4).tolist())
            for c in y]
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    trusted = np.zeros(len(y), dtype=bool)
    trusted[np.concatenate([np.flatnonzero(y == c)[:8] for c in range(3)])] = True
    y_noisy[trusted], flipped[trusted] = y[trusted], False
    return docs, y, y_noisy, flipped, trusted


def text_model():
    return make_pipeline(TfidfVectorizer(), LogisticRegression(C=10.0))


def _precision(scores, flipped):
    low = np.argsort(scores)[: flipped.sum()]
    return flipped[low].mean()


def test_detectors_score_raw_texts(texts):
    docs, y, y_noisy, flipped, trusted = texts
    det = ClassBasedIFDetector(text_model()).fit(docs, y_noisy, trusted_mask=trusted)
    assert _precision(det.score_samples(docs, y_noisy), flipped) >= 0.7
    assert isinstance(det.estimator_, Pipeline)  # the fitted Pipeline, raw texts in
    assert (det.estimator_.predict(docs) == y).mean() >= 0.8
    assert not hasattr(det, "n_features_in_")  # as on a Pipeline given texts
    # trusted rows given apart go through the same fitted transformers
    ref = np.flatnonzero(trusted)
    rest = np.flatnonzero(~trusted)
    apart = ClassBasedIFDetector(text_model()).fit(
        [docs[i] for i in rest], y_noisy[rest], X_trusted=[docs[i] for i in ref],
        y_trusted=y[ref])
    assert _precision(apart.score_samples([docs[i] for i in rest], y_noisy[rest]),
                      flipped[rest]) >= 0.7
    model_based = ModelBasedDetector(text_model(), random_state=0).fit(
        docs, y_noisy, trusted_mask=trusted)
    assert _precision(model_based.score_samples(docs, y_noisy), flipped) >= 0.6
    crossed = cross_fit_scores(ClassBasedIFDetector(text_model()), docs, y_noisy,
                               trusted_mask=trusted, random_state=0)
    assert _precision(crossed, flipped) >= 0.6


def test_cincer_cleans_a_stream_of_raw_texts(texts):
    docs, y, y_noisy, flipped, _ = texts
    perm = np.random.default_rng(1).permutation(len(docs))
    docs = [docs[i] for i in perm]
    y, y_noisy, flipped = y[perm], y_noisy[perm], flipped[perm]
    # the oracle knows the rows by position: texts are not numbers to look up
    oracle = SimulatedOracle(np.arange(len(docs))[:, None], y)
    cleaner = CincerCleaner(text_model(), oracle=oracle, random_state=0)
    cleaner.fit(docs[:90], y_noisy[:90]).partial_fit(docs[90:], y_noisy[90:])
    assert cleaner.X_.shape[0] == len(docs)  # the rows as the model takes them (TF-IDF)
    fixed = (~flipped[90:] | (cleaner.y_[90:] == y[90:])).mean()
    assert fixed > (~flipped[90:]).mean()  # wrong labels in the stream were fixed
    assert (cleaner.predict(docs[:30]) == y[:30]).mean() >= 0.8  # raw texts in


def test_chef_on_a_dataframe_with_a_string_column():
    rng = np.random.default_rng(0)
    n = 240
    town = rng.choice(["north", "south", "east"], n)
    size = rng.normal(size=n)
    y = ((town == "north") ^ (size > 0.3)).astype(int)
    frame = pd.DataFrame({"town": town, "size": size * 40 + 100},
                         index=[f"row{i}" for i in range(n)])
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    trusted = np.arange(n) < 40
    y_noisy[trusted], flipped[trusted] = y[trusted], False
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["town"]),
                                                  remainder=StandardScaler()),
                          LogisticRegression(C=100.0))
    chef = ChefCleaner(model, oracle=SimulatedOracle(frame, y),  # finds rows by index
                       budget=30, batch_size=10).fit(frame, y_noisy, trusted_mask=trusted)
    report = chef.cleaning_report()
    assert report["row_id"].str.startswith("row").all()  # the frame's index names the rows
    assert chef.n_changed_ >= 10
    assert chef.feature_names_in_.tolist() == ["town", "size"]
    assert chef.predict(frame.iloc[:5]).shape == (5,)


def test_nested_parameters_reach_the_last_step(texts):
    docs, _, y_noisy, _, trusted = texts
    det = ClassBasedIFDetector(text_model())
    assert clone(det).get_params()["estimator__logisticregression__C"] == 10.0
    search = GridSearchCV(det, {"estimator__logisticregression__C": [1.0, 10.0]},
                          cv=KFold(2, shuffle=True, random_state=0))
    search.fit(docs, y_noisy, trusted_mask=trusted)  # routed to every fold's fit
    assert search.best_params_["estimator__logisticregression__C"] in (1.0, 10.0)


def test_a_prefit_pipeline_keeps_its_fitted_transformers(texts):
    docs, y, y_noisy, flipped, trusted = texts
    fitted = text_model().fit(docs, y_noisy)
    det = ClassBasedIFDetector(fitted, prefit=True).fit(docs, y_noisy, trusted_mask=trusted)
    assert det.transformer_[0] is fitted[0]  # fitted steps kept, not refitted
    np.testing.assert_allclose(det.estimator_.predict_proba(docs), fitted.predict_proba(docs))


def test_a_pipeline_without_a_model_at_its_end_is_refused(texts):
    docs, _, y_noisy, _, trusted = texts
    model = Pipeline([("tfidf", TfidfVectorizer()), ("model", "passthrough")])
    with pytest.raises(ValueError, match="must end in a model"):
        ClassBasedIFDetector(model).fit(docs, y_noisy, trusted_mask=trusted)
