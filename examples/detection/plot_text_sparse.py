"""
============================================================
Wrong labels in text: sparse TF-IDF rows, scored out of fold
============================================================

Real text without a download: the docstrings of six modules of the installed
libraries, labelled by module (:func:`skclean.datasets.load_docstrings`),
as TF-IDF of words and word pairs, a sparse matrix that stays sparse
through the detector. 20% of the labels are flipped; five texts per module
keep their true label and serve as the trusted rows.

A logistic regression over tens of thousands of columns fits the wrong
labels too, so scores taken on the rows it was fitted to lose part of the
signal. :func:`skclean.cross_fit_scores` judges each row with a detector
fitted without it, as ``cross_val_predict`` does for a classifier.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from skclean import ClassBasedIFDetector, DetectionDisplay, cross_fit_scores
from skclean.datasets import flip_labels, load_docstrings

modules = ["scipy.signal", "scipy.special", "scipy.stats", "numpy.random",
           "torch.nn.functional", "torch.nn.modules"]
texts, labels = load_docstrings(modules)
X = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
classes, y_true = np.unique(labels, return_inverse=True)
print(f"{X.shape[0]} texts x {X.shape[1]:,} columns, {X.nnz / np.prod(X.shape):.2%} non-zero")

y, flipped = flip_labels(y_true, 0.2, random_state=0)
trusted = np.zeros(len(y), dtype=bool)
rng = np.random.default_rng(0)
for c in range(len(classes)):
    trusted[rng.choice(np.flatnonzero(y_true == c), 5, replace=False)] = True
y[trusted], flipped[trusted] = y_true[trusted], False

# %%
# Three rankings with the same model: the detector on the rows it was fitted
# to, the detector cross-fitted over two folds, and the out-of-fold
# self-confidence that cleanlab ranks by (here computed directly).
model = LogisticRegression(C=10.0, max_iter=1000)
detector = ClassBasedIFDetector(model)
scores = {
    "in sample": detector.fit(X, y, trusted_mask=trusted).score_samples(X, y),
    "cross-fitted (2 folds)": cross_fit_scores(detector, X, y, trusted_mask=trusted,
                                                random_state=0),
}
proba = cross_val_predict(model, X, y, cv=5, method="predict_proba")
scores["out-of-fold self-confidence (5 folds)"] = proba[np.arange(len(y)), y]
keep = ~trusted
for name, s in scores.items():
    lowest = np.argsort(s[keep])[: flipped.sum()]
    print(f"{name:40s} wrong labels among the lowest {flipped.sum()}: "
          f"{flipped[keep][lowest].mean():.0%}")

# %%
# Left: the share of wrong labels among the lowest-scored rows, what a person
# reviewing them in that order would find; right: the ROC curves.
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
main = "cross-fitted (2 folds)"
DetectionDisplay.from_predictions(
    scores[main][keep], flipped[keep], name=main,
    other_scores={k: v[keep] for k, v in scores.items() if k != main},
    kind=["precision", "roc"], ax=axes)
fig.tight_layout()
plt.show()
