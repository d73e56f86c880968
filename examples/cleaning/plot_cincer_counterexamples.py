"""
===================================================
CINCER: a suspicious digit and its counter-example
===================================================

Digits arrive one at a time, 20% of them mislabeled. When the model finds an
incoming digit suspicious (its label's probability trails the prediction's by
at least ``threshold``), CINCER shows it together with the training example
that most supports the model's suspicion — picked with the Top-Fisher
influence of Eq. 12 among training examples labelled as the prediction — and
asks the annotator about both.
"""

import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression

from skclean import CincerCleaner, SimulatedOracle
from skclean.datasets import flip_labels, load_dataset

X, _, y, _ = load_dataset("digits", random_state=0)
y_noisy, flipped = flip_labels(y, 0.2, random_state=0)

# %%
# Bootstrap on 150 noisy rows, then stream 120 more. A simulated annotator
# knows the true labels.
cleaner = CincerCleaner(LogisticRegression(C=0.1, max_iter=300), oracle=SimulatedOracle(X, y),
                        threshold=0.2, random_state=0)
cleaner.fit(X[:150], y_noisy[:150])
cleaner.partial_fit(X[150:270], y_noisy[150:270])
report = cleaner.cleaning_report()
print(f"{cleaner.n_queries_} queries, {cleaner.n_cleaned_} labels corrected "
      f"({int(report['cleaned_counterexample'].sum())} of them counter-examples)")
print(report[["position", "label", "answer", "counterexample_label",
              "counterexample_answer"]].head(8))

# %%
# The first queries: each suspicious digit (top) next to its counter-example
# (bottom), with the labels before → after the annotator's answer.
shown = [h for h in cleaner.history_ if h["counterexample"] is not None][:6]
fig, axes = plt.subplots(2, len(shown), figsize=(1.8 * len(shown), 4.2))
for j, h in enumerate(shown):
    pairs = [(X[150 + h["position"]], f"{h['label']} → {h['answer']}", "suspicious"),
             (cleaner.X_[h["counterexample"]],
              f"{h['counterexample_label']} → {h['counterexample_answer']}", "counter-ex.")]
    for i, (img, title, role) in enumerate(pairs):
        ax = axes[i, j]
        ax.imshow(img.reshape(8, 8), cmap="gray_r")
        ax.set_title(f"{role}\n{title}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
fig.tight_layout()
plt.show()
