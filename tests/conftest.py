import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from torch import nn

from skclean.models import default_classifier

torch.set_num_threads(2)

@pytest.fixture(autouse=True)
def _seed_global_generators():
    """An estimator left at ``random_state=None`` draws from numpy's and torch's global
    generators: seeded per test, a verdict never hangs on luck or on which tests ran
    before (the draws that matter are tested over many explicit seeds)."""
    np.random.seed(0)  # noqa: NPY002 (the legacy global is what random_state=None uses)
    torch.manual_seed(0)


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


#: Every kind of model a user passes; the invariance suite runs them all × every estimator.
MODEL_KINDS = ["lr", "lrcv", "balanced", "sgd", "mlp", "skorch", "binary", "torch", "module"]
#: One kind per adapter code path.  The fault-injection suite (9 faults × every estimator)
#: runs these: LogisticRegressionCV and class weights take the LogisticRegression adapter's
#: path, a one-logit skorch net and a module class the torch adapter's, through the same
#: questions layer, so injecting faults there again would re-run the same rollback code.
CORE_KINDS = ["lr", "sgd", "mlp", "skorch", "torch"]
#: Kinds with one output: the shared tests give them two classes (the last merged into the
#: first).
BINARY_KINDS = {"binary"}


class TinyModule(nn.Module):
    """A module *class* (skorch takes one): built by the adapter, seeded by random_state."""

    def __init__(self, n_features=4, n_classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_classes))

    def forward(self, X):
        return self.body(X)


def model_of_kind(kind, n_features, n_classes):
    """The kinds of model every estimator wraps, small and seeded."""
    if kind == "lr":
        return LogisticRegression(max_iter=500)
    if kind == "lrcv":  # its search runs once, in the first fit
        return LogisticRegressionCV(Cs=3, cv=3, max_iter=500)
    if kind == "balanced":  # class weights folded into the objective
        return LogisticRegression(class_weight="balanced", max_iter=500)
    if kind == "binary":  # skorch's one-logit classifier
        from skorch import NeuralNetBinaryClassifier

        torch.manual_seed(0)
        return NeuralNetBinaryClassifier(
            nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, 1), nn.Flatten(0)),
            max_epochs=4, lr=1e-2, optimizer=torch.optim.Adam, train_split=None, verbose=0)
    if kind == "module":
        return TinyModule
    if kind == "sgd":  # the logistic model of large data: one-vs-rest, its own partial_fit
        return SGDClassifier(loss="log_loss", alpha=1e-3, random_state=0)
    if kind == "mlp":  # scikit-learn's own network, differentiated through its weights
        return MLPClassifier((8,), solver="lbfgs", max_iter=100, random_state=0)
    if kind == "skorch":
        return small_net(n_features, n_classes, max_epochs=4, lr=1e-2)
    torch.manual_seed(0)  # a plain module carries its own initial weights: the same each time
    return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_classes))


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
