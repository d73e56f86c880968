"""Data loaders and label-noise injection for experiments.

The shipped sets (breast cancer, wine, iris, digits, synthetic blobs) work
offline; adult, MNIST, Fashion-MNIST and 20 Newsgroups are fetched through
scikit-learn's fetchers and need a network connection the first time.
"""

import numpy as np
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils import check_random_state

__all__ = ["DATASETS", "LIBRARY_MODULES", "flip_labels", "load_dataset", "load_docstrings",
           "make_blobs_dataset"]


def make_blobs_dataset(n_samples=1000, n_features=2, n_classes=2, cluster_std=1.5,
                       random_state=0):
    """Synthetic Gaussian blobs ``(X, y)``, one blob per class."""
    return skd.make_blobs(n_samples=n_samples, n_features=n_features, centers=n_classes,
                          cluster_std=cluster_std, random_state=random_state)


#: The modules whose docstrings :func:`load_docstrings` reads, one class each: eight
#: scikit-learn subpackages whose documentation shares its vocabulary (estimators,
#: ``fit``, parameters), and neighbours from SciPy, NumPy and PyTorch.
LIBRARY_MODULES = (
    "sklearn.linear_model", "sklearn.ensemble", "sklearn.cluster", "sklearn.preprocessing",
    "sklearn.metrics", "sklearn.decomposition", "sklearn.neighbors", "sklearn.model_selection",
    "scipy.stats", "scipy.signal", "scipy.special", "numpy.ma", "numpy.random",
    "torch.nn.modules", "torch.nn.functional", "torch.distributions",
)


def load_docstrings(modules=LIBRARY_MODULES, *, min_length=300):
    """Real text that ships offline: the docstrings of installed libraries, by module.

    Each text is the documentation of a public function, class or method of
    one of ``modules`` (its label), with its *Examples* section, its other
    code lines and every mention of a library or module name removed, so that what is left (the
    prose, parameters, notes and *See Also* lists) is what a classifier has to
    go on.  A text found under two modules (an inherited docstring) is
    dropped.  With the default modules: about 2,300 texts in 16 overlapping,
    imbalanced classes (47 to 375 texts), 123,000 TF-IDF columns of words and
    word pairs; the exact counts follow the installed versions
    (``constraints.txt`` pins the tested ones).

    Returns
    -------
    texts : list of str
    labels : ndarray of str
        The module of each text.
    """
    import importlib
    import inspect
    import re
    import warnings

    names = {part for m in modules for part in m.split(".")} | {"np", "sp", "nn", "F", "pd"}
    strip = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len,
                                                  reverse=True)) + r")\b")
    # a Python set printed into a docstring comes out in hash order: sort it, so the texts
    # are the same in every process
    sets = re.compile(r"\{('[^']*'(?:, '[^']*')+)\}")
    code = re.compile(r"(?m)^[ \t]*(?:>>>|\.\.\.)(?: .*)?$\n?")
    found = {}
    for module in modules:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module(module)
            objects = []
            for attr in dir(mod):
                if attr.startswith("_"):
                    continue
                obj = getattr(mod, attr, None)
                if not callable(obj):
                    continue
                objects.append(obj)
                if inspect.isclass(obj):
                    objects += [getattr(obj, m, None) for m in dir(obj) if not m.startswith("_")]
            for obj in objects:
                doc = inspect.getdoc(obj) if obj is not None else None
                if not doc:
                    continue
                doc = re.split(r"\n\s*Examples?\n\s*-{3,}", doc)[0]  # code, not prose
                doc = code.sub("", doc)  # and code lines elsewhere
                doc = strip.sub(" ", sets.sub(_sorted_set, doc))
                if len(doc) >= min_length:
                    found.setdefault(doc, set()).add(module)
    texts = sorted(t for t, where in found.items() if len(where) == 1)
    return texts, np.array([next(iter(found[t])) for t in texts])


def _sorted_set(match):
    return "{" + ", ".join(sorted(match.group(1).split(", "))) + "}"


def _openml(name, version):
    def load():
        X, y = skd.fetch_openml(name, version=version, as_frame=False, return_X_y=True,
                                parser="auto")
        return X, y
    return load


def _adult():
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    frame = skd.fetch_openml("adult", version=2, as_frame=True, parser="auto")
    X, y = frame.data, frame.target
    cats = X.select_dtypes(exclude="number").columns
    enc = make_column_transformer((OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                   cats), remainder="passthrough")
    return enc.fit_transform(X).astype(np.float64), np.asarray(y)


def _newsgroups():
    from sklearn.feature_extraction.text import TfidfVectorizer

    data = skd.fetch_20newsgroups(subset="all", remove=("headers", "footers", "quotes"))
    X = TfidfVectorizer(max_features=2000, stop_words="english").fit_transform(data.data)
    return X.toarray(), data.target


DATASETS = {
    "breast": lambda: skd.load_breast_cancer(return_X_y=True),
    "wine": lambda: skd.load_wine(return_X_y=True),
    "iris": lambda: skd.load_iris(return_X_y=True),
    "digits": lambda: skd.load_digits(return_X_y=True),
    "blobs": make_blobs_dataset,
    "adult": _adult,
    "mnist": _openml("mnist_784", 1),
    "fashion_mnist": _openml("Fashion-MNIST", 1),
    "20ng": _newsgroups,
}
_IMAGES = {"digits", "mnist", "fashion_mnist"}


def load_dataset(name, *, test_size=0.25, scale=True, random_state=0):
    """Load a named data set and split it into train and test parts.

    Parameters
    ----------
    name : str
        One of ``"breast"``, ``"wine"``, ``"iris"``, ``"digits"``, ``"blobs"``
        (offline) or ``"adult"``, ``"mnist"``, ``"fashion_mnist"``, ``"20ng"``
        (downloaded once, then cached by scikit-learn).
    test_size : float, default=0.25
        Share of rows in the stratified test split.
    scale : bool, default=True
        Standardise tabular features (fit on the training split); images are
        scaled to ``[0, 1]``.
    random_state : int, RandomState or None, default=0

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; choose from {sorted(DATASETS)}.")
    X, y = DATASETS[name]()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if y.dtype.kind in "OUS":
        y = np.unique(y, return_inverse=True)[1]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, stratify=y,
                                              random_state=random_state)
    if scale:
        scaler = MinMaxScaler() if name in _IMAGES else StandardScaler()
        X_tr = scaler.fit_transform(X_tr)
        X_te = scaler.transform(X_te)
    return X_tr, X_te, y_tr, y_te


#: How :func:`flip_labels` corrupts a label.
NOISE_KINDS = ("uniform", "structured", "adjacent", "confusion", "annotators")


def flip_labels(y, rate, *, kind="uniform", mapping=None, classes=None, n_confused=2,
                annotator_rates=(0.25, 1.0, 1.75), random_state=None):
    """Corrupt a share of labels, the way real annotators do or uniformly.

    Parameters
    ----------
    y : array-like of shape (n,)
        Clean labels.
    rate : float in [0, 1]
        Share of rows to corrupt (``round(rate · n)`` rows, chosen at random;
        for ``"annotators"`` the expected share).
    kind : {"uniform", "structured", "adjacent", "confusion", "annotators"}, default="uniform"
        ``"uniform"``: a corrupted row gets another class drawn uniformly.
        ``"structured"``: class ``i`` always becomes ``h(i)``, by default the
        next class in sorted order (``mapping`` overrides it).
        ``"adjacent"``: ordinal labels (grades, ratings, severities): class
        ``i`` (in sorted order) becomes ``i − 1`` or ``i + 1``, the one
        neighbour at either end.
        ``"confusion"``: each class is confused with a few others
        (``n_confused``, drawn at random, with Dirichlet(1) weights), as
        annotators who mix up particular pairs; ``mapping`` may instead give
        the ``(C, C)`` matrix of wrong-label probabilities (row ``i``: the
        labels a row of class ``i`` gets when it is corrupted; the diagonal is
        ignored).
        ``"annotators"``: each row is labelled by one of
        ``len(annotator_rates)`` annotators chosen at random, who gets it
        wrong (uniformly) with probability ``rate · annotator_rates[j]``:
        mixed annotator quality (the defaults average to ``rate``).
    mapping : dict, callable or array of shape (C, C), default=None
        ``h`` for ``kind="structured"``; the wrong-label matrix for
        ``kind="confusion"``.
    classes : array-like, default=None
        Label set (in order, for ``"adjacent"``); defaults to the sorted
        classes present in ``y``.
    n_confused : int, default=2
        Classes each class is confused with (``kind="confusion"``).
    annotator_rates : sequence of float, default=(0.25, 1.0, 1.75)
        Each annotator's error rate as a multiple of ``rate``
        (``kind="annotators"``).
    random_state : int, RandomState or None

    Returns
    -------
    y_noisy : ndarray of shape (n,)
    flipped : ndarray of bool of shape (n,)
        True where the returned label differs from the given one.

    Examples
    --------
    >>> import numpy as np
    >>> from skclean.datasets import flip_labels
    >>> grades = np.repeat([1, 2, 3, 4, 5], 20)
    >>> noisy, flipped = flip_labels(grades, 0.2, kind="adjacent", random_state=0)
    >>> int(flipped.sum()), int(np.abs(noisy - grades).max())
    (20, 1)
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}.")
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {NOISE_KINDS}, got {kind!r}.")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    if len(classes) < 2:
        raise ValueError("Flipping labels needs at least two classes.")
    rng = check_random_state(random_state)
    C = len(classes)
    if kind == "annotators":
        factors = np.asarray(annotator_rates, dtype=float)
        if factors.ndim != 1 or len(factors) == 0 or np.any(factors < 0) or \
                rate * factors.max() > 1:
            raise ValueError(f"annotator_rates must be non-negative multiples of rate with "
                             f"rate * max <= 1, got {annotator_rates!r} with rate={rate}.")
        who = rng.randint(len(factors), size=len(y))
        rows = np.flatnonzero(rng.rand(len(y)) < rate * factors[who])
    else:
        rows = rng.choice(len(y), int(round(rate * len(y))), replace=False)
    y_noisy = y.copy()
    pos = np.searchsorted(classes, y[rows])
    if kind in ("uniform", "annotators"):
        shift = rng.randint(1, C, size=len(rows))  # never the same class
        y_noisy[rows] = classes[(pos + shift) % C]
    elif kind == "structured":
        if mapping is None:
            h = {c: classes[(i + 1) % C] for i, c in enumerate(classes)}
        else:
            h = mapping
        fn = h if callable(h) else h.__getitem__
        y_noisy[rows] = [fn(v) for v in y[rows]]
    elif kind == "adjacent":
        step = np.where(rng.rand(len(rows)) < 0.5, -1, 1)
        step[pos == 0], step[pos == C - 1] = 1, -1
        y_noisy[rows] = classes[pos + step]
    else:  # confusion
        M = _confusion_matrix(C, mapping, n_confused, rng)
        cum = M.cumsum(1)
        draw = rng.rand(len(rows))[:, None]
        y_noisy[rows] = classes[np.minimum((draw > cum[pos]).sum(1), C - 1)]
    return y_noisy, y_noisy != y


def _confusion_matrix(C, mapping, n_confused, rng):
    """Row-stochastic wrong-label probabilities with a zero diagonal."""
    if mapping is None:
        k = int(min(max(n_confused, 1), C - 1))
        M = np.zeros((C, C))
        for i in range(C):
            others = rng.choice(np.delete(np.arange(C), i), k, replace=False)
            M[i, others] = rng.dirichlet(np.ones(k))
        return M
    M = np.array(mapping, dtype=float)
    if M.shape != (C, C) or np.any(M < 0) or not np.all(np.isfinite(M)):
        raise ValueError(f"mapping for kind='confusion' must be a ({C}, {C}) matrix of "
                         "non-negative wrong-label probabilities.")
    np.fill_diagonal(M, 0.0)
    total = M.sum(1, keepdims=True)
    if np.any(total == 0):
        raise ValueError("mapping for kind='confusion' gives a class no wrong label.")
    return M / total
