"""A user's own data end to end: DataFrames, Pipelines, fit_resample, durable answers."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skclean import (
    ChefCleaner,
    CincerCleaner,
    ConsoleOracle,
    ModelBasedDetector,
    SimulatedOracle,
)
from skclean.datasets import flip_labels


@pytest.fixture(scope="module")
def raw():
    """Raw (unscaled) wine features in a DataFrame with a non-default index."""
    data = load_wine(as_frame=True)
    order = np.random.RandomState(0).permutation(len(data.frame))  # the file is sorted by class
    X = data.frame.drop(columns="target").iloc[order]
    X.index = [f"bottle-{i}" for i in order]
    target = data.target.to_numpy()[order]
    y = pd.Series(np.array(["barolo", "grignolino", "barbera"])[target], index=X.index,
                  name="cultivar")
    y_noisy = y.copy()
    _, flipped = flip_labels(target, 0.2, random_state=0)
    y_noisy[flipped] = y.to_numpy()[np.roll(np.flatnonzero(flipped), 1)]
    flipped = (y_noisy != y).to_numpy()
    trusted = np.zeros(len(X), dtype=bool)
    trusted[np.concatenate([np.flatnonzero(y == c)[:8] for c in y.unique()])] = True
    y_noisy[trusted] = y[trusted]
    return X, y, y_noisy, flipped & ~trusted, trusted


def _lr():
    return LogisticRegression(max_iter=2000)


def _cleaners(oracle):
    return {
        "chef": ChefCleaner(_lr(), oracle=oracle, budget=20, batch_size=5),
        "cincer": CincerCleaner(_lr(), oracle=oracle, bootstrap_size=60),
        "model_based": ModelBasedDetector(_lr(), oracle=oracle, n_rounds=3, query_size=10,
                                          random_state=0),
    }


def _trusted_param(name):
    return {"chef": "trusted_mask", "model_based": "trusted_mask"}.get(name)


@pytest.mark.parametrize("output", ["default", "pandas"])
@pytest.mark.parametrize("name", ["chef", "cincer", "model_based"])
def test_pipeline_on_raw_dataframe_asks_about_the_users_rows(raw, name, output):
    """The cleaner sees scaled rows; the oracle, built on the raw DataFrame, gets ids.

    With ``set_output(transform="pandas")`` the ids are the DataFrame index;
    without, the scaler returns an array and the ids are positions in X.
    """
    X, y, y_noisy, _, trusted = raw
    seen = []

    class Spy(SimulatedOracle):
        def query(self, Xq, yq, row_ids=None, **ctx):
            seen.extend(row_ids)
            return super().query(Xq, yq, row_ids=row_ids, **ctx)

    oracle = Spy(X, y)  # built on the user's raw rows
    cleaner = _cleaners(oracle)[name]
    pipe = Pipeline([("scale", StandardScaler()), ("clean", cleaner)])
    if output == "pandas":
        pipe.set_output(transform="pandas")
    kw = {f"clean__{_trusted_param(name)}": trusted} if _trusted_param(name) else {}
    if name == "cincer":  # a stream: fit_resample bootstraps, then streams the rest
        Xs = pipe[:-1].fit_transform(X)
        cleaner.fit_resample(Xs, y_noisy)
    else:
        pipe.fit(X, y_noisy, **kw)
    report = cleaner.cleaning_report()
    asked = report[~report["skipped"]]
    assert len(asked) > 0 and len(seen) > 0
    ids = asked["row_id"].to_numpy()
    rows = y.loc[ids] if output == "pandas" else y.iloc[ids.astype(int)]
    if output == "pandas":
        assert set(ids) <= set(X.index)
    # every answer is the truth of the row the id names, in the user's label space
    np.testing.assert_array_equal(asked["applied"].to_numpy(), rows.to_numpy())
    assert set(report["given"]) <= set(y.unique())


@pytest.mark.parametrize("name", ["chef", "cincer", "model_based"])
def test_fit_resample_cleans_labels_for_any_classifier(raw, name):
    from imblearn.pipeline import Pipeline as ImbPipeline
    from sklearn.ensemble import RandomForestClassifier

    X, y, y_noisy, flipped, trusted = raw
    cleaner = _cleaners(SimulatedOracle(X, y))[name]
    kw = {_trusted_param(name): trusted} if _trusted_param(name) else {}
    Xs = pd.DataFrame(StandardScaler().fit_transform(X), index=X.index, columns=X.columns)
    X_out, y_out = cleaner.fit_resample(Xs, y_noisy, **kw)
    assert isinstance(y_out, pd.Series) and y_out.name == "cultivar"
    assert list(X_out.index) == list(y_out.index)
    fixed = (y_out.loc[y_out.index] != y_noisy.loc[y_out.index]).sum()
    assert fixed > 0 and (y_out == y.loc[y_out.index]).sum() > (y_noisy == y).loc[
        y_out.index].sum()  # more right labels than before, none made wrong
    # inside imbalanced-learn's Pipeline, the classifier trains on the cleaned labels; the
    # trusted rows reach the cleaner through scikit-learn's metadata routing
    with sklearn.config_context(enable_metadata_routing=True):
        step = _cleaners(SimulatedOracle(X, y))[name]
        if kw:
            step.set_fit_request(**{k: True for k in kw})
            step.set_fit_resample_request(**{k: True for k in kw})
        pipe = ImbPipeline([("scale", StandardScaler()), ("clean", step),
                            ("model", RandomForestClassifier(random_state=0))])
        pipe.fit(X, y_noisy, **kw)
    direct = RandomForestClassifier(random_state=0).fit(X_out, y_out)
    np.testing.assert_array_equal(pipe.predict(X), direct.predict(Xs.to_numpy()))


def test_console_oracle_shows_raw_rows_with_names(raw):
    X, y, y_noisy, _, trusted = raw
    printed = []
    answers = iter(["skip"] * 5)
    oracle = ConsoleOracle(data=X, input_fn=lambda p: next(answers), print_fn=printed.append)
    cleaner = ChefCleaner(_lr(), oracle=oracle, budget=5, batch_size=5)
    Pipeline([("scale", StandardScaler()), ("clean", cleaner)]).fit(
        X, y_noisy, clean__trusted_mask=trusted)
    text = "\n".join(printed)
    assert "question 1 of 5: row " in text
    assert "alcohol=" in text  # the raw column name, not x0
    row_id = cleaner.cleaning_report()["row_id"].iloc[0]
    assert f"alcohol={X['alcohol'].iloc[row_id]:.4g}" in text  # raw, not scaled


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from skclean import ChefCleaner, SimulatedOracle
    from skclean.datasets import flip_labels, load_dataset

    X, X_val, y, y_val = load_dataset("wine", random_state=0)
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    truth, kill_at, calls = SimulatedOracle(X, y), int(sys.argv[2]), []

    def oracle(Xq, yq, **ctx):
        calls.append(len(Xq))
        if len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: a crash
        return truth(Xq, yq, **ctx)

    c = ChefCleaner(LogisticRegression(max_iter=1000), oracle=oracle, budget=20, batch_size=5,
                    journal=sys.argv[1]).fit(X, y_noisy, X_trusted=X_val, y_trusted=y_val)
    print(sum(calls), " ".join(map(str, c.cleaning_report()["applied"])))
""")


def test_journal_survives_a_killed_process(tmp_path):
    journal = tmp_path / "answers.sqlite"
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    killed = subprocess.run([sys.executable, str(script), str(journal), "3"],
                            capture_output=True, text=True)
    assert killed.returncode == -9  # SIGKILL in the middle of the third round
    resumed = subprocess.run([sys.executable, str(script), str(journal), "0"],
                             capture_output=True, text=True, check=True)
    fresh = subprocess.run([sys.executable, str(script), str(tmp_path / "new.sqlite"), "0"],
                           capture_output=True, text=True, check=True)
    asked_resumed, labels_resumed = resumed.stdout.split(" ", 1)
    asked_fresh, labels_fresh = fresh.stdout.split(" ", 1)
    assert int(asked_fresh) == 20 and int(asked_resumed) == 10  # two rounds were replayed
    assert labels_resumed == labels_fresh  # and it ends where an uninterrupted run ends


def test_cross_validation_asks_in_every_fold_unless_the_journal_is_shared(raw, tmp_path):
    """Inside cross_val_score each fold fits a clone: each fold asks its own questions.

    A shared ``journal`` file answers, in later folds, the rows already answered
    in earlier ones, so a person is never asked about the same row twice: the
    rows keep their ids (the DataFrame index) in every fold.  With arrays the
    ids are positions within each fold, which name other rows in the next:
    the journal refuses to guess.
    """
    from sklearn.model_selection import KFold, cross_val_score

    X, y, y_noisy, _, trusted = raw
    Xs = pd.DataFrame(StandardScaler().fit_transform(X), index=X.index)
    folds = KFold(3, shuffle=True, random_state=0)
    asked = {}
    for journal in (None, tmp_path / "cv.sqlite"):
        oracle = SimulatedOracle(Xs, y.to_numpy())
        counted = []

        def counting(Xq, yq, oracle=oracle, counted=counted, **ctx):
            counted.extend(map(bytes, np.round(Xq, 8)))
            return oracle(Xq, yq, **ctx)

        cleaner = ChefCleaner(_lr(), oracle=counting, budget=30, batch_size=10,
                              journal=journal)
        scores = cross_val_score(cleaner, Xs, y_noisy.to_numpy(), cv=folds,
                                 params={"trusted_mask": trusted})
        assert len(scores) == 3 and np.all(scores > 0.5)
        asked[journal is None] = counted
    assert len(asked[True]) == 90  # 3 folds x budget 30
    assert len(asked[False]) == len(set(asked[False])) < 90  # no row asked twice

    cleaner = ChefCleaner(_lr(), oracle=SimulatedOracle(Xs.to_numpy(), y.to_numpy()),
                          budget=30, batch_size=10, journal=tmp_path / "cv_arrays.sqlite")
    with pytest.raises(ValueError, match="stable ids \\(a DataFrame index\\)"):
        cross_val_score(cleaner, Xs.to_numpy(), y_noisy.to_numpy(), cv=folds,
                        params={"trusted_mask": trusted}, error_score="raise")
    # arrays with their ids passed along: split with X in every fold, one journal serves all
    shown = []
    cleaner = ChefCleaner(_lr(), oracle=lambda Xq, yq, row_ids, **c: shown.extend(row_ids)
                          or SimulatedOracle(Xs, y.to_numpy())(Xq, yq, row_ids=row_ids, **c),
                          budget=30, batch_size=10, journal=tmp_path / "cv_ids.sqlite")
    cross_val_score(cleaner, Xs.to_numpy(), y_noisy.to_numpy(), cv=folds, error_score="raise",
                    params={"trusted_mask": trusted, "row_ids": X.index.to_numpy()})
    assert len(shown) == len(set(shown)) < 90 and set(shown) <= set(X.index)


def test_detectors_score_for_model_selection_and_nested_params_error(raw):
    from sklearn.model_selection import GridSearchCV

    from skclean import ClassBasedIFDetector

    X, y, y_noisy, _, trusted = raw
    Xs = StandardScaler().fit_transform(X)
    from sklearn.model_selection import KFold

    grid = GridSearchCV(ClassBasedIFDetector(_lr()), {"similarity": ["gd", "gc"]},
                        cv=KFold(3, shuffle=True, random_state=0), error_score="raise")
    grid.fit(Xs, y_noisy.to_numpy(), trusted_mask=trusted)
    assert grid.best_params_["similarity"] in ("gd", "gc")
    with pytest.raises(ValueError, match="estimator=None builds skclean's default network"):
        ChefCleaner().set_params(estimator__lr=0.1)
