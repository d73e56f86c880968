"""
=======================================================
Wrong labels in images: a small CNN, images as they are
=======================================================

scikit-learn's 8×8 digits as image rows ``(n, 1, 8, 8)``, the shape a
convolutional network takes, with 20% of the labels flipped and ten trusted
images per digit. The model is a small skorch CNN (two 3×3 convolutions,
max-pooling, two linear layers); every skclean estimator takes the image
rows as they are.

We compare four rankings with the same network: the class-based detector
as it is by default (a network is scored along its training, at the
checkpoints the trusted rows pick), the same with the trained network alone
(``trajectory=False``), that cross-fitted over two folds
(:func:`skclean.cross_fit_scores`), and the out-of-fold self-confidence that
cleanlab ranks by (computed directly, five folds). Then CINCER cleans a
stream of images and we look at what it asked.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_predict
from skorch import NeuralNetClassifier
from torch import nn

from skclean import (
    CincerCleaner,
    ClassBasedIFDetector,
    DetectionDisplay,
    SimulatedOracle,
    cross_fit_scores,
)
from skclean.datasets import flip_labels
from skclean.display import QuestionDisplay

torch.set_num_threads(1)  # reproducible sums (see the user guide: the thread count)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.classify = nn.Sequential(nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, X):
        return self.classify(self.features(X))


def cnn(epochs=15):
    return NeuralNetClassifier(CNN, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                               lr=3e-3, max_epochs=epochs, batch_size=64, train_split=None,
                               verbose=0)


digits = load_digits()
X = (digits.images / 16.0).astype(np.float32)[:, None]  # (n, 1, 8, 8)
y_true = digits.target
y, flipped = flip_labels(y_true, 0.2, random_state=0)
trusted = np.zeros(len(y), dtype=bool)
rng = np.random.default_rng(0)
for c in range(10):
    trusted[rng.choice(np.flatnonzero(y_true == c), 10, replace=False)] = True
y[trusted], flipped[trusted] = y_true[trusted], False
print(f"images {X.shape}, {flipped.sum()} wrong labels")

# %%
# Four rankings with the same network.
detector = ClassBasedIFDetector(cnn(), random_state=0)
trained_only = ClassBasedIFDetector(cnn(), trajectory=False, random_state=0)
scores = {
    "default (along the training)": detector.fit(X, y, trusted_mask=trusted)
    .score_samples(X, y),
    "trained net only": trained_only.fit(X, y, trusted_mask=trusted).score_samples(X, y),
    "trained net only, cross-fitted": cross_fit_scores(trained_only, X, y,
                                                        trusted_mask=trusted, random_state=0),
}
proba = cross_val_predict(cnn(), X, y.astype(np.int64), cv=5, method="predict_proba")
scores["out-of-fold self-confidence (5 folds)"] = proba[np.arange(len(y)), y]
keep = ~trusted
for name, s in scores.items():
    lowest = np.argsort(s[keep])[: flipped.sum()]
    print(f"{name:40s} wrong labels among the lowest {flipped.sum()}: "
          f"{flipped[keep][lowest].mean():.0%}")

# %%
# At 15 epochs this network has not memorised the wrong labels, and the
# rankings are close. A network trained until it fits every label loses that
# signal in its trained-network scores; the default keeps it by scoring the
# checkpoints before the memorising (which checkpoints: ``trajectory_rates_``,
# how often each flags the trusted rows), at the cost of one fit against
# cleanlab's five. See the benchmark of the user guide, at 100 epochs.
print("trusted rows flagged, per checkpoint (1 = blind to the labels):",
      np.round(detector.trajectory_rates_, 2), f"kept {len(detector.trajectory_)}")
#
# Left: the share of wrong labels among the lowest-scored images, what a
# person reviewing them in that order would find; right: the ROC curves.
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
main = "default (along the training)"
DetectionDisplay.from_predictions(
    scores[main][keep], flipped[keep], name=main,
    other_scores={k: v[keep] for k, v in scores.items() if k != main},
    kind=["precision", "roc"], ax=axes)
fig.tight_layout()

# %%
# The images the default detector finds least plausible, with their given
# label and (in brackets) the true one.
lowest = np.flatnonzero(keep)[np.argsort(scores[main][keep])[:12]]
fig, axes = plt.subplots(2, 6, figsize=(8, 3.2))
for a, i in zip(axes.ravel(), lowest, strict=True):
    a.imshow(X[i, 0], cmap="gray_r")
    a.set_title(f"{y[i]} ({y_true[i]})", color="tab:red" if flipped[i] else "k", fontsize=9)
    a.set_axis_off()
fig.suptitle("lowest scores: given label (true label), red when wrong")
plt.tight_layout()

# %%
# CINCER on a stream of images: a suspicious image is shown with its
# counter-example, and the oracle (here a simulated annotator who knows the
# true labels) relabels either or both.
order = rng.permutation(len(y))
Xs, ys = X[order], y[order]
cleaner = CincerCleaner(cnn(10), oracle=SimulatedOracle(Xs, y_true[order]),
                        refit_epochs=2, random_state=0)
cleaner.fit(Xs[:300], ys[:300]).partial_fit(Xs[300:420], ys[300:420])
report = cleaner.cleaning_report()
print(f"{cleaner.n_queries_} questions, {cleaner.n_changed_} labels fixed: wrong labels "
      f"of the stream ({(ys[300:420] != y_true[order][300:420]).sum()} there) and of the "
      "counter-examples shown with them")
QuestionDisplay.from_estimator(cleaner, Xs)
plt.show()
