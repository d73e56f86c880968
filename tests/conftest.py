import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.preprocessing import StandardScaler

from skclean.models import default_classifier

torch.set_num_threads(2)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="session")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def breast():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def small_net(n_features, n_classes, **kw):
    kw.setdefault("max_epochs", 5)
    return default_classifier(n_features, n_classes, hidden=(8,), **kw)


@pytest.fixture
def rng():
    return np.random.RandomState(0)


def brute_expected_fisher(adapter, X, which):
    """1/n Σ_i Σ_c p_ic g_ic g_icᵀ from autograd gradients for every possible label."""
    P = torch.as_tensor(adapter.predict_proba(X), dtype=adapter.dtype)
    F = 0
    for c, label in enumerate(adapter.classes_):
        G = adapter.per_example_grads(X, np.full(len(X), label), which=which)
        F = F + (G * P[:, c : c + 1]).T @ G
    return F / len(X)
