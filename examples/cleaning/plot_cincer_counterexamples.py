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

from skclean import CincerCleaner, QuestionDisplay, SimulatedOracle
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

# %%
# The cleaning report has one line per row asked about: rows asked together
# share a ``question`` number, and ``changed`` says the answer fixed the
# label. Row ids are positions in everything passed to ``fit`` and then
# ``partial_fit``, here the first 270 rows of ``X``.
report = cleaner.cleaning_report()
fixed_ce = report[(report["role"] == "counterexample") & report["changed"]]
print(f"{cleaner.n_queries_} queries, {cleaner.n_changed_} labels corrected "
      f"({len(fixed_ce)} of them counter-examples)")
print(report[["question", "row_id", "role", "given", "answer", "applied"]].head(8))

# %%
# The first queries: each suspicious digit (top) next to its counter-example
# (bottom), with the labels given → applied after the annotator's answer (in
# red when the answer changed the label). :class:`~skclean.QuestionDisplay`
# draws one question; here each question gets a column of the figure.
questions = report.loc[report["role"] == "counterexample", "question"].unique()[:6]
fig, axes = plt.subplots(2, len(questions), figsize=(1.8 * len(questions), 4.4))
for j, question in enumerate(questions):
    QuestionDisplay.from_estimator(cleaner, X, question, image_shape=(8, 8), ax=axes[:, j])
fig.tight_layout()
plt.show()
