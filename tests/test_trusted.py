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
