import re

import numpy as np
import pytest

from skclean.datasets import flip_labels, load_dataset


@pytest.mark.parametrize("name", ["breast", "wine", "iris", "digits", "blobs"])
def test_shipped_loaders(name):
    X_tr, X_te, y_tr, y_te = load_dataset(name, random_state=0)
    assert X_tr.ndim == 2 and X_tr.shape[1] == X_te.shape[1]
    assert len(X_tr) == len(y_tr) and len(X_te) == len(y_te)
    assert set(np.unique(y_te)) == set(np.unique(y_tr))
    assert np.isfinite(X_tr).all()
    if name == "digits":
        assert X_tr.min() >= 0 and X_tr.max() <= 1
    else:
        np.testing.assert_allclose(X_tr.mean(0), 0, atol=1e-8)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown data set"):
        load_dataset("nope")


@pytest.mark.parametrize("kind", ["uniform", "structured"])
def test_flip_labels(kind, rng):
    y = rng.randint(0, 4, 1000)
    y_noisy, flipped = flip_labels(y, 0.2, kind=kind, random_state=0)
    assert flipped.sum() == 200
    np.testing.assert_array_equal(flipped, y_noisy != y)
    np.testing.assert_array_equal(y_noisy[~flipped], y[~flipped])
    if kind == "structured":
        np.testing.assert_array_equal(y_noisy[flipped], (y[flipped] + 1) % 4)
    again, _ = flip_labels(y, 0.2, kind=kind, random_state=0)
    np.testing.assert_array_equal(y_noisy, again)


def test_flip_labels_uniform_reaches_every_other_class(rng):
    y = np.zeros(3000, int)
    y[:3] = [1, 2, 3]
    y_noisy, flipped = flip_labels(y, 0.9, random_state=1)
    counts = np.bincount(y_noisy[flipped & (y == 0)], minlength=4)
    assert counts[0] == 0 and (counts[1:] > 700).all()


def test_flip_labels_custom_mapping_and_errors():
    y = np.array(["a", "b", "c"] * 10)
    h = {"a": "c", "b": "a", "c": "b"}
    y_noisy, flipped = flip_labels(y, 1.0, kind="structured", mapping=h)
    np.testing.assert_array_equal(y_noisy[:3], ["c", "a", "b"])
    with pytest.raises(ValueError, match="rate"):
        flip_labels(y, 2.0)
    with pytest.raises(ValueError, match="kind"):
        flip_labels(y, 0.1, kind="adversarial")
    with pytest.raises(ValueError, match="two classes"):
        flip_labels(np.zeros(5), 0.1)


def test_docstrings_are_real_text_without_the_names_that_give_the_label_away():
    from skclean.datasets import load_docstrings

    modules = ["scipy.signal", "numpy.random"]
    texts, labels = load_docstrings(modules)
    assert set(labels) == set(modules) and len(texts) == len(labels) > 200
    assert len(set(texts)) == len(texts)  # a text is under one label only
    joined = "\n".join(texts)
    for name in ("scipy", "numpy", "signal", "random", "np"):
        assert re.search(rf"\b{name}\b", joined) is None, name
    assert ">>>" not in joined  # the Examples sections (code) are cut
    assert all(len(t) >= 300 for t in texts)
    assert load_docstrings(modules)[0] == texts  # the same texts on every call


def test_flip_labels_adjacent_moves_ordinal_labels_one_step(rng):
    y = rng.randint(1, 6, 5000)  # grades 1..5
    y_noisy, flipped = flip_labels(y, 0.3, kind="adjacent", random_state=0)
    assert flipped.sum() == 1500
    step = y_noisy[flipped] - y[flipped]
    assert set(np.abs(step).tolist()) == {1}
    assert (step[y[flipped] == 1] == 1).all() and (step[y[flipped] == 5] == -1).all()
    middle = step[(y[flipped] > 1) & (y[flipped] < 5)]
    assert 0.4 < (middle > 0).mean() < 0.6  # both ways, about equally (n ~ 900)


def test_flip_labels_confusion_few_dominant_confusions(rng):
    y = rng.randint(0, 6, 30000)
    y_noisy, flipped = flip_labels(y, 0.3, kind="confusion", n_confused=2, random_state=0)
    assert flipped.sum() == 9000
    for c in range(6):
        wrong = np.unique(y_noisy[flipped & (y == c)])
        assert len(wrong) == 2 and c not in wrong
    # an explicit matrix: each class's wrong labels follow its row (diagonal ignored)
    M = np.array([[5, 3, 1], [1, 0, 0], [1, 1, 0]], dtype=float)
    y3 = rng.randint(0, 3, 60000)
    noisy, fl = flip_labels(y3, 0.5, kind="confusion", mapping=M, random_state=1)
    for c in range(3):
        row = M[c].copy()
        row[c] = 0
        got = np.bincount(noisy[fl & (y3 == c)], minlength=3)
        k = got.sum()
        expected = k * row / row.sum()
        assert np.all(np.abs(got - expected) <= 5 * np.sqrt(expected + 1))  # 5 s.d.
    with pytest.raises(ValueError, match="no wrong label"):
        flip_labels(y3, 0.1, kind="confusion", mapping=np.eye(3))
    with pytest.raises(ValueError, match=r"\(3, 3\) matrix"):
        flip_labels(y3, 0.1, kind="confusion", mapping=np.ones((2, 2)))


def test_flip_labels_annotators_of_mixed_quality(rng):
    y = rng.randint(0, 4, 40000)
    y_noisy, flipped = flip_labels(y, 0.2, kind="annotators", random_state=0)
    sd = np.sqrt(len(y) * 0.2 * 0.8)
    assert abs(flipped.sum() - 0.2 * len(y)) <= 5 * sd  # the expected share
    np.testing.assert_array_equal(y_noisy[~flipped], y[~flipped])
    # one careless annotator labels everything wrong, two never err: a third of the rows
    _, fl = flip_labels(y, 0.5, kind="annotators", annotator_rates=(0, 0, 2),
                        random_state=1)
    assert abs(fl.mean() - 1 / 3) < 0.02
    with pytest.raises(ValueError, match="annotator_rates"):
        flip_labels(y, 0.6, kind="annotators")  # 0.6 * 1.75 > 1
