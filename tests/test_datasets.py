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
