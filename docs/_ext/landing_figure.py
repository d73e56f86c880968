"""Draw the landing page's figure when the documentation is built.

The figure shows the landing page's example: 20% of the breast-cancer
training labels are flipped, and the class-based influence detector scores
every row against 40 trusted rows. It is written to
``docs/generated/landing_detection.png`` (ignored by git, like the rest of
``docs/generated/``) and redrawn only when it is missing or older than this
file or skclean's sources, so an incremental build does not pay for it.
"""

from pathlib import Path

OUT = Path("generated") / "landing_detection.png"


def draw(path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    from skclean import ClassBasedIFDetector, DetectionDisplay
    from skclean.datasets import flip_labels, load_dataset

    X, X_test, y, y_test = load_dataset("breast", random_state=0)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    detector = ClassBasedIFDetector(LogisticRegression(), random_state=0)
    detector.fit(X, y_noisy, X_trusted=X_test[:40], y_trusted=y_test[:40])

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    disp = DetectionDisplay.from_estimator(detector, X, y_noisy, flipped, name="skclean",
                                           kind=["hist", "precision"], ax=axes)
    axes[0].set_title("Wrong labels get low scores")
    axes[0].set_xlabel("score of each training row (lower = more suspicious)")
    axes[1].set_title("Check the lowest-scored rows first")
    axes[1].set_ylabel("share of them that are wrong")
    axes[1].set_xlabel(f"rows checked (% of {len(y)}, lowest scores first)")
    for text in axes[0].get_legend().get_texts():
        text.set_text(text.get_text().replace("mislabeled label", "wrong label"))
    handles, labels = axes[1].get_legend_handles_labels()
    labels = [{"skclean": "ranked by skclean"}.get(lab, lab) for lab in labels]
    labels = [lab.replace("base rate", "random order") for lab in labels]
    axes[1].legend(handles, labels, fontsize=8, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return disp


def _sources():
    import skclean

    return [Path(__file__), *Path(skclean.__file__).parent.rglob("*.py")]


def _builder_inited(app):
    path = Path(app.srcdir) / OUT
    newest = max(source.stat().st_mtime for source in _sources())
    if not path.exists() or path.stat().st_mtime < newest:
        draw(path)


def setup(app):
    app.connect("builder-inited", _builder_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
