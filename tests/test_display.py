"""The matplotlib displays: drawn under Agg, and checked on the data they show."""

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

import skclean  # noqa: E402
from skclean import (  # noqa: E402
    ChefCleaner,
    CincerCleaner,
    ClassBasedIFDetector,
    CleaningCurveDisplay,
    DetectionDisplay,
    InfluenceDisplay,
    QuestionDisplay,
    SimulatedOracle,
)
from skclean.datasets import flip_labels, load_dataset  # noqa: E402
from skclean.display import _cleaning_curve, _detection, _influence, _question  # noqa: E402
from skclean.display._utils import lookup  # noqa: E402
from skclean.influence import removal_influence, retrain_loss_change  # noqa: E402
from skclean.models import make_adapter  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    X, X_test, y, y_test = load_dataset("breast", random_state=0)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    return X, X_test, y, y_test, y_noisy, flipped


@pytest.fixture(scope="module")
def detector(data):
    X, X_test, _, y_test, y_noisy, _ = data
    return ClassBasedIFDetector(LogisticRegression(max_iter=1000)).fit(
        X, y_noisy, X_trusted=X_test[:40], y_trusted=y_test[:40])


@pytest.fixture(scope="module")
def cincer(data):
    X, _, y, _, y_noisy, _ = data
    cin = CincerCleaner(LogisticRegression(max_iter=1000), oracle=SimulatedOracle(X, y))
    cin.fit(X[:60], y_noisy[:60])
    cin.partial_fit(X[60:100], y_noisy[60:100])
    return cin


@pytest.fixture(scope="module")
def chefs(data):
    X, X_test, y, y_test, _, _ = data
    out = []
    for seed in range(2):
        y_noisy, _ = flip_labels(y, 0.2, random_state=seed)
        out.append(ChefCleaner(LogisticRegression(max_iter=1000), oracle=SimulatedOracle(X, y),
                               budget=30, batch_size=10).fit(X, y_noisy, X_trusted=X_test,
                                                             y_trusted=y_test))
    return out


class _ReportOnly:
    """A stand-in cleaner: just a cleaning report."""

    def __init__(self, report):
        self.report = report

    def cleaning_report(self):
        return self.report


def _report(row_ids, questions, roles, given, applied, skipped=None):
    n = len(row_ids)
    return pd.DataFrame({"row_id": row_ids, "question": questions, "role": roles,
                         "given": given, "applied": applied,
                         "skipped": [False] * n if skipped is None else skipped})


# --------------------------------------------------------------------------- detection
def test_detection_display_matches_brute_force(data, detector):
    X, _, _, _, y_noisy, flipped = data
    other = np.random.RandomState(0).rand(len(X))
    disp = DetectionDisplay.from_estimator(detector, X, y_noisy, flipped, name="IF",
                                           other_scores={"random": other})
    scores = detector.score_samples(X, y_noisy)
    assert len(disp.ax_) == 3 and disp.figure_ is disp.ax_[0].figure
    assert disp.base_rate_ == pytest.approx(flipped.mean())

    # ROC: the lower the score, the more suspicious
    for name, s in [("IF", scores), ("random", other)]:
        assert disp.roc_auc_[name] == pytest.approx(roc_auc_score(flipped, -s))
        fpr, tpr, _ = roc_curve(flipped, -s)
        np.testing.assert_allclose(disp.fpr_[name], fpr)
        np.testing.assert_allclose(disp.lines_["roc"][name].get_xydata(),
                                   np.column_stack([fpr, tpr]))
    assert disp.roc_auc_["IF"] > 0.9
    assert "AUC = " in disp.lines_["roc"]["IF"].get_label()

    # precision among the lowest k %, brute force
    n = len(X)
    np.testing.assert_array_equal(disp.inspected_, np.arange(1, 51))
    for name, s in [("IF", scores), ("random", other)]:
        ranked = sorted(range(n), key=lambda i, s=s: (s[i], i))
        brute = [flipped[ranked[:max(1, round(k * n / 100))]].mean() for k in range(1, 51)]
        np.testing.assert_allclose(disp.precision_at_[name], brute)
        np.testing.assert_allclose(disp.lines_["precision"][name].get_ydata(), brute)
    base = [ln for ln in disp.ax_[1].get_lines() if ln.get_linestyle() == "--"]
    assert len(base) == 1 and base[0].get_ydata()[0] == pytest.approx(flipped.mean())
    perfect = [ln for ln in disp.ax_[1].get_lines() if ln.get_label() == "perfect ranking"]
    n_k = np.maximum(1, np.round(np.arange(1, 51) * n / 100))
    np.testing.assert_allclose(perfect[0].get_ydata(), np.minimum(1, flipped.sum() / n_k))

    # histograms count every row once (outliers fall into the end bins)
    assert sum(p.get_height() for p in disp.hist_["mislabeled"]) == flipped.sum()
    assert sum(p.get_height() for p in disp.hist_["correct"]) == (~flipped).sum()


def test_detection_display_panels_and_checks():
    rng = np.random.RandomState(1)
    flipped = rng.rand(120) < 0.25
    scores = rng.randn(120) - flipped
    fig, axes = plt.subplots(1, 2)
    disp = DetectionDisplay.from_predictions(scores, flipped.astype(int), name="s",
                                             kind=("roc", "precision"), ax=axes,
                                             max_inspected=20)
    assert list(disp.ax_) == list(axes) and disp.figure_ is fig
    assert axes[0].get_title() == "ROC" and len(disp.precision_at_["s"]) == 20
    assert disp.hist_ == {}
    with pytest.raises(ValueError, match="3 Axes"):
        DetectionDisplay.from_predictions(scores, flipped, ax=axes)
    with pytest.raises(ValueError, match="both"):
        DetectionDisplay.from_predictions(scores, np.zeros(120, bool))
    with pytest.raises(ValueError, match="shape"):
        DetectionDisplay.from_predictions(scores[:-1], flipped)
    with pytest.raises(ValueError, match="kind"):
        DetectionDisplay.from_predictions(scores, flipped, kind=("pr",))
    with pytest.raises(ValueError, match="rename"):
        DetectionDisplay.from_predictions(scores, flipped, name="a", other_scores={"a": scores})


# --------------------------------------------------------------------------- questions
def test_question_display_shows_the_asked_rows(data, cincer):
    X = data[0]
    report = cincer.cleaning_report()
    last = report.loc[report["role"] == "suspicious", "question"].iloc[-1]
    rows = report[report["question"] == last]

    disp = QuestionDisplay.from_estimator(cincer, X, image_shape=(5, 6))
    assert disp.question == last
    assert disp.row_ids == rows["row_id"].tolist()
    assert disp.roles == ["suspicious", "counterexample"]
    for img, rid in zip(disp.images_, rows["row_id"], strict=True):
        np.testing.assert_allclose(img.get_array(), X[rid].reshape(5, 6))
    for a, (_, r) in zip(disp.ax_, rows.iterrows(), strict=True):
        assert a.get_title() == f"{r['role']} #{r['row_id']}\n{r['given']} → {r['applied']}"

    first = report["question"].iloc[0]
    disp = QuestionDisplay.from_estimator(cincer, X, first, max_features=7)
    rids = report.loc[report["question"] == first, "row_id"].tolist()
    assert len(disp.bars_) == 2
    for bars, rid in zip(disp.bars_, rids, strict=True):
        np.testing.assert_allclose([b.get_width() for b in bars], X[rid, :7])
    assert [t.get_text() for t in disp.ax_[0].get_yticklabels()] == [f"x{j}" for j in range(7)]
    with pytest.raises(ValueError, match="No question 999"):
        QuestionDisplay.from_estimator(cincer, X, 999)
    with pytest.raises(ValueError, match="image_shape"):
        QuestionDisplay.from_estimator(cincer, X, image_shape=(8, 8))


def test_question_display_dataframe_rows_by_index():
    X = pd.DataFrame(np.arange(24.0).reshape(6, 4), columns=["a", "b", "c", "d"],
                     index=["r0", "r1", "r2", "r3", "r4", "r5"])
    report = _report(["r4", "r1", "r2", "r5"], [1, 1, 2, 2],
                     ["suspicious", "counterexample", "candidate", "candidate"],
                     ["no", "yes", "no", "no"], ["yes", "yes", "no", "yes"],
                     skipped=[False, False, True, False])
    # default: the last question with a suspicious row, here question 1
    disp = QuestionDisplay.from_estimator(_ReportOnly(report), X, max_features=3)
    assert disp.question == 1 and disp.row_ids == ["r4", "r1"]
    np.testing.assert_allclose([b.get_width() for b in disp.bars_[0]], X.loc["r4", ["a", "b", "c"]])
    assert [t.get_text() for t in disp.ax_[0].get_yticklabels()] == ["a", "b", "c"]
    assert disp.ax_[0].title.get_color() == "tab:red"  # the answer changed it
    assert disp.ax_[1].title.get_color() == "black"

    fig, axes = plt.subplots(1, 2)
    disp = QuestionDisplay.from_report(report, X, 2, ax=axes)
    assert disp.figure_ is fig and disp.titles_[0] == "candidate #r2\nno → skipped"
    # without a suspicious row, the default is the last question
    assert QuestionDisplay.from_report(report.iloc[2:], X).question == 2


def test_lookup_by_index_then_position():
    s = pd.Series([10, 11, 12], index=[5, 6, 7])
    assert lookup(s, 6) == 11  # in the index: by label
    assert lookup(s, 1) == 11  # not in the index: by position
    assert lookup(np.array([3, 4]), np.int64(1)) == 4
    with pytest.raises(KeyError):
        lookup(s, "x")


# --------------------------------------------------------------------------- curves
def _fixed_by_brute_force(report, y_true):
    return sum(int(r["applied"] == y_true[r["row_id"]] and r["given"] != y_true[r["row_id"]])
               for _, r in report.iterrows())


def test_cleaning_curve_counts_fixed_rows(data, cincer, chefs):
    y = data[2]
    disp = CleaningCurveDisplay.from_estimators({"CHEF": chefs, "CINCER": cincer}, y,
                                                plot_ideal=True)
    finals = []
    for c in chefs:
        report = c.cleaning_report()
        q, fixed = _cleaning_curve.cleaning_curve(report, y)
        np.testing.assert_array_equal(q, np.arange(len(report) + 1))
        assert fixed[-1] == _fixed_by_brute_force(report, y)
        # a perfect annotator fixes every wrong label it is asked about
        assert fixed[-1] == (report["given"] != y[report["row_id"]]).sum()
        finals.append(fixed[-1])
    assert disp.mean_["CHEF"][-1] == pytest.approx(np.mean(finals))
    assert disp.lower_["CHEF"][-1] == min(finals) and disp.upper_["CHEF"][-1] == max(finals)
    np.testing.assert_allclose(disp.lines_["CHEF"].get_ydata(), disp.mean_["CHEF"])
    assert disp.lines_["CHEF"].get_label() == "CHEF (2 runs)"

    report = cincer.cleaning_report()
    assert disp.mean_["CINCER"][-1] == _fixed_by_brute_force(report, y) > 0
    assert disp.x_["CINCER"][-1] == len(report)
    assert disp.bands_["CINCER"] is None and disp.bands_["CHEF"] is not None
    assert disp.ax_.get_xlabel() == "rows asked"


def test_cleaning_curve_series_labels_by_index():
    y_true = pd.Series(["cat", "dog", "dog"], index=["a", "b", "c"])
    report = _report(["b", "a", "c", "b"], [1, 1, 2, 3], "candidate",
                     ["cat", "cat", "cat", "dog"], ["dog", "dog", "cat", "dog"])
    q, fixed = _cleaning_curve.cleaning_curve(report, y_true)
    # b fixed; a made wrong (not subtracted); c left wrong; b confirmed (already right)
    np.testing.assert_array_equal(fixed, [0, 1, 1, 1, 1])
    disp = CleaningCurveDisplay.from_estimators({"m": [report]}, y_true)
    np.testing.assert_array_equal(disp.mean_["m"], fixed)


def test_cleaning_curve_from_curves_aggregates_runs():
    curves = {"a": [([0, 1, 2, 3], [0, 1, 2, 2]), ([0, 2, 4], [0, 2, 3])],
              "b": (np.array([0, 5]), np.array([0, 4]))}
    disp = CleaningCurveDisplay.from_curves(curves, band="std", xlabel="q")
    np.testing.assert_array_equal(disp.x_["a"], [0, 1, 2, 3, 4])
    # run 2 as a step function: 0, 0, 2, 2, 3; run 1 ends at x=3
    np.testing.assert_allclose(disp.mean_["a"], [0, 0.5, 2, 2, 3])
    np.testing.assert_allclose(disp.upper_["a"] - disp.mean_["a"], [0, 0.5, 0, 0, 0])
    assert disp.bands_["b"] is None and disp.ax_.get_xlabel() == "q"
    disp = CleaningCurveDisplay.from_curves(curves, band=None)
    assert disp.bands_["a"] is None
    with pytest.raises(ValueError, match="increase"):
        CleaningCurveDisplay.from_curves({"a": ([2, 1], [0, 1])})
    with pytest.raises(ValueError, match="band"):
        CleaningCurveDisplay.from_curves(curves, band="iqr")


# --------------------------------------------------------------------------- influence
def test_influence_display_against_leave_one_out(data):
    X, X_test, y, y_test, _, _ = data
    X, y = X[:80], y[:80]

    def factory():
        return make_adapter(LogisticRegression(C=0.1, tol=1e-10, max_iter=5000))

    disp = InfluenceDisplay.from_estimator(factory, X, y, X_test, y_test, 6)
    pred = removal_influence(factory().fit(X, y), X, y, X_test, y_test)
    idx = np.argsort(-np.abs(pred), kind="stable")[:6]
    np.testing.assert_array_equal(disp.indices, idx)
    np.testing.assert_allclose(disp.predicted, pred[idx], rtol=1e-6, atol=1e-12)
    actual = retrain_loss_change(factory, X, y, X_test, y_test, idx)
    np.testing.assert_allclose(disp.actual, actual, rtol=1e-6, atol=1e-10)
    assert disp.spearman_ == pytest.approx(spearmanr(pred[idx], actual).statistic)
    assert disp.spearman_ > 0.5
    np.testing.assert_allclose(disp.scatter_.get_offsets(), np.column_stack([actual, pred[idx]]),
                               rtol=1e-6, atol=1e-10)
    x, yy = disp.line_.get_data()
    np.testing.assert_allclose(x, yy)  # the y = x line
    assert f"{disp.spearman_:.3f}" in disp.ax_.get_title()


def test_influence_display_several_predictions():
    fig, ax = plt.subplots()
    disp = InfluenceDisplay.from_predictions({"a": [1, 2, 3, 4], "b": [4, 3, 2, 1]},
                                             [1, 2, 3, 4], ax=ax, title="t")
    assert disp.figure_ is fig and disp.spearman_ == pytest.approx({"a": 1.0, "b": -1.0})
    assert disp.ax_.get_title() == "t\nSpearman ρ: a 1.000, b -1.000"
    assert set(disp.scatter_) == {"a", "b"}
    with pytest.raises(ValueError, match="same length"):
        InfluenceDisplay.from_predictions([1, 2], [1, 2, 3])


# --------------------------------------------------------------------------- package
def test_exported_at_top_level():
    for name in ["CleaningCurveDisplay", "DetectionDisplay", "InfluenceDisplay",
                 "QuestionDisplay"]:
        assert name in skclean.__all__
        assert getattr(skclean, name) is getattr(skclean.display, name)


@pytest.mark.parametrize("module", [_cleaning_curve, _detection, _influence, _question])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
