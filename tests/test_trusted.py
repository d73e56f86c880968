"""One name for the verified rows on every estimator; the old names for a deprecation cycle."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skclean import ChefCleaner, ClassBasedIFDetector, ModelBasedDetector, SimulatedOracle
from skclean.datasets import flip_labels, load_dataset


@pytest.fixture(scope="module")
def data():
    X, X_t, y, y_t = load_dataset("wine", random_state=0)
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    return X, y, y_noisy, X_t, y_t


def _lr():
    return LogisticRegression(max_iter=1000)


# estimator, its old (separate rows, mask) keyword names
CASES = {
    "chef": (lambda X, y: ChefCleaner(_lr(), oracle=SimulatedOracle(X, y), budget=6,
                                      batch_size=3, random_state=0),
             ("X_val", "y_val", "validation_mask")),
    "class_based": (lambda X, y: ClassBasedIFDetector(_lr(), random_state=0),
                    ("X_ref", "y_ref", "reference_mask")),
    "model_based": (lambda X, y: ModelBasedDetector(_lr(), oracle=SimulatedOracle(X, y),
                                                    n_rounds=2, query_size=5, random_state=0),
                    ("X_ref", "y_ref", "reference_mask")),
}


@pytest.mark.parametrize("name", CASES)
def test_old_names_warn_and_give_the_same_fit(data, name):
    X, y, y_noisy, X_t, y_t = data
    make, (old_X, old_y, old_mask) = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        new = make(X, y).fit(X, y_noisy, X_trusted=X_t, y_trusted=y_t)
    with pytest.warns(FutureWarning) as record:
        old = make(X, y).fit(X, y_noisy, **{old_X: X_t, old_y: y_t})
    messages = [str(w.message) for w in record]
    assert any(f"{old_X}=...) is deprecated" in m and "X_trusted" in m for m in messages)
    assert any(f"{old_y}=...) is deprecated" in m and "y_trusted" in m for m in messages)
    np.testing.assert_array_equal(new.score_samples(X, y_noisy), old.score_samples(X, y_noisy))

    mask = np.zeros(len(X), dtype=bool)
    mask[::4] = True
    y_in = np.where(mask, y, y_noisy)
    new = make(X, y).fit(X, y_in, trusted_mask=mask)
    with pytest.warns(FutureWarning, match=f"{old_mask}=...\\) is deprecated.*trusted_mask"):
        old = make(X, y).fit(X, y_in, **{old_mask: mask})
    np.testing.assert_array_equal(new.score_samples(X, y_in), old.score_samples(X, y_in))


@pytest.mark.filterwarnings("ignore:.*is deprecated:FutureWarning")
@pytest.mark.parametrize("name", CASES)
def test_old_and_new_name_together_is_an_error_naming_both(data, name):
    X, y, y_noisy, X_t, y_t = data
    make, (old_X, _, old_mask) = CASES[name]
    est = make(X, y)
    with pytest.raises(ValueError, match=f"{old_X} is the deprecated name of X_trusted"):
        est.fit(X, y_noisy, X_trusted=X_t, y_trusted=y_t, **{old_X: X_t})
    with pytest.raises(ValueError, match="either X_trusted/y_trusted or trusted_mask"):
        est.fit(X, y_noisy, X_trusted=X_t, y_trusted=y_t, **{old_mask: [0, 1, 2]})
    assert not hasattr(est, "classes_")  # nothing was fitted


@pytest.mark.parametrize("name", CASES)
def test_trusted_mask_routes_through_a_pipeline(data, name):
    """The new name, and the old one during its deprecation cycle, reach the estimator."""
    X, y, y_noisy, _, _ = data
    make, (_, _, old_mask) = CASES[name]
    mask = np.zeros(len(X), dtype=bool)
    mask[::4] = True
    y_in = np.where(mask, y, y_noisy)
    with sklearn.config_context(enable_metadata_routing=True):
        new = make(X, y).set_fit_request(trusted_mask=True)
        make_pipeline(StandardScaler(), new).fit(X, y_in, trusted_mask=mask)
        old = make(X, y).set_fit_request(**{old_mask: True})
        with pytest.warns(FutureWarning, match=old_mask):
            make_pipeline(StandardScaler(), old).fit(X, y_in, **{old_mask: mask})
    Xs = StandardScaler().fit_transform(X)
    np.testing.assert_array_equal(new.score_samples(Xs, y_in), old.score_samples(Xs, y_in))


def test_hold_out_keeps_a_row_of_every_class_and_is_the_plain_draw_otherwise():
    from skclean.cleaners._trusted import hold_out

    y = np.repeat([0, 1, 2], 3)
    for seed in range(200):  # 1 in 84 plain draws of 3 would take all of one class
        kept, held = hold_out(y, 3, np.random.RandomState(seed))
        assert len(held) == 3 and set(y[kept]) == {0, 1, 2}
        np.testing.assert_array_equal(np.sort(np.r_[kept, held]), np.arange(9))
    y = np.repeat([0, 1, 2], 40)  # no class can run short: the first n of the permutation
    perm = np.random.RandomState(5).permutation(len(y))
    kept, held = hold_out(y, 36, np.random.RandomState(5))
    np.testing.assert_array_equal(held, perm[:36])
    np.testing.assert_array_equal(kept, perm[36:])
    y = np.array([0, 1, 1])  # only one row can go: the other two are their class's last
    kept, held = hold_out(y, 2, np.random.RandomState(0))
    assert len(held) == 1 and y[held[0]] == 1 and sorted(y[kept]) == [0, 1]


def test_model_based_trains_on_every_class_with_few_trusted_rows(data):
    """3 trusted rows per class, 30% held out: no seed may leave a class untrained."""
    X, y, y_noisy, _, _ = data
    mask = np.concatenate([np.flatnonzero(y == c)[:3] for c in np.unique(y)])
    y_in = y_noisy.copy()
    y_in[mask] = y[mask]
    # the seeds whose plain draw of 3 (the first 3 of the permutation) is one whole class
    whole = [s for s in range(300)
             if len(set(y[mask][np.random.RandomState(s).permutation(9)[:3]])) == 1]
    assert whole
    for seed in whole[:3] + [0, 1]:
        det = ModelBasedDetector(_lr(), n_rounds=1, random_state=seed)
        det.fit(X, y_in, trusted_mask=mask)
        assert det.score_samples(X, y_in).shape == (len(X),)
    with pytest.raises(ValueError, match="train on the rest with a row of every class"):
        ModelBasedDetector(_lr(), n_rounds=1).fit(
            X, y_in, trusted_mask=[np.flatnonzero(y == c)[0] for c in np.unique(y)])
