"""Image rows ``(n, C, H, W)`` as skorch and cleanlab take them.

That every estimator gives the same results on image rows as on the same
values flat is in ``test_invariance``; here: what a person sees, the rows
given apart, and the errors of models that take flat rows only.
"""

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier
from torch import nn

from skclean import (
    ChefCleaner,
    ClassBasedIFDetector,
    ConsoleOracle,
    SimulatedOracle,
)
from skclean.datasets import flip_labels
from skclean.display import QuestionDisplay

matplotlib.use("Agg")


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 16, 16), nn.ReLU(),
                                  nn.Linear(16, 10))

    def forward(self, X):
        return self.head(self.conv(X))


def cnn(epochs=6):
    return NeuralNetClassifier(TinyCNN, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                               lr=1e-2, max_epochs=epochs, batch_size=64, train_split=None,
                               verbose=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X[:400] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y[:400]
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    trusted = np.zeros(len(y), dtype=bool)
    trusted[np.concatenate([np.flatnonzero(y == c)[:5] for c in range(10)])] = True
    y_noisy[trusted], flipped[trusted] = y[trusted], False
    return X, y, y_noisy, flipped, trusted


def test_a_cnn_detector_finds_wrong_labels_of_images(digits):
    X, y, y_noisy, flipped, trusted = digits
    det = ClassBasedIFDetector(cnn(), random_state=0).fit(X, y_noisy, trusted_mask=trusted)
    low = np.argsort(det.score_samples(X, y_noisy))[: flipped.sum()]
    assert flipped[low].mean() >= 0.6  # base rate 0.2
    # trusted images given apart: the same row shape is required, and named
    ref = np.flatnonzero(trusted)
    ClassBasedIFDetector(cnn(2), random_state=0).fit(X[~trusted], y_noisy[~trusted],
                                                     X_trusted=X[ref], y_trusted=y[ref])
    with pytest.raises(ValueError, match=r"X_trusted has rows of shape \(64,\)"):
        ClassBasedIFDetector(cnn(2)).fit(X[~trusted], y_noisy[~trusted],
                                         X_trusted=X[ref].reshape(len(ref), -1),
                                         y_trusted=y[ref])


def test_a_prefit_cnn_is_taken_as_it_is(digits):
    """A trained CNN's first layer is a convolution: no flat input width to check against."""
    X, y, y_noisy, _, trusted = digits
    net = cnn(2).fit(X, y_noisy)
    det = ClassBasedIFDetector(net, prefit=True).fit(X, y_noisy, trusted_mask=trusted)
    assert det.estimator_ is net and det.trajectory_ is None
    np.testing.assert_allclose(det.adapter_.predict_proba(X), net.predict_proba(X), atol=1e-6)


def test_a_person_sees_image_rows_as_images(digits):
    X, y, y_noisy, _, trusted = digits
    lines = []
    oracle = ConsoleOracle(input_fn=lambda prompt: ":keep", print_fn=lines.append)
    chef = ChefCleaner(cnn(2), oracle=oracle, budget=2, batch_size=2, random_state=0)
    chef.fit(X, y_noisy, trusted_mask=trusted)
    text = "\n".join(lines)
    assert "image 1×8×8:" in text
    art = [ln for ln in lines if ln.startswith("    |")]
    assert len(art) == 2 * 8 and all(len(ln) == len("    |") + 16 + 1 for ln in art)
    assert "@" in text and "x0=" not in text  # the darkest ink shown; no list of 64 numbers
    disp = QuestionDisplay.from_estimator(chef, X)
    assert disp.images_ and disp.images_[0].get_array().shape == (8, 8)


def test_models_of_flat_rows_refuse_images_naming_what_to_do(digits):
    X, y, y_noisy, _, trusted = digits
    for model, name in [(LogisticRegression(), "LogisticRegression"),
                        (None, "default network")]:
        with pytest.raises(ValueError, match=rf"shape \(400, 1, 8, 8\).*{name}.*"
                                             r"X.reshape\(len\(X\), -1\)"):
            ClassBasedIFDetector(model).fit(X, y_noisy, trusted_mask=trusted)
    oracle = SimulatedOracle(X, y)  # the oracle takes image rows as they are
    assert oracle(X[:3], y_noisy[:3]).tolist() == y[:3].tolist()
