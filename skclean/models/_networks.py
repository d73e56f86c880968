"""Small default networks from the CINCER experiments, and the default classifier."""

import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochScoring
from torch import nn


class MLP(nn.Module):
    """Fully connected network ("FC" in CINCER): Dense-ReLU-Dropout blocks, then logits.

    Parameters
    ----------
    n_features : int
        Input width.
    n_classes : int
        Number of logits.
    hidden : tuple of int, default=(64, 32)
        Widths of the hidden layers.
    dropout : float, default=0.2
        Dropout after each hidden layer.
    """

    def __init__(self, n_features, n_classes, hidden=(64, 32), dropout=0.2):
        super().__init__()
        layers, width = [], n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.output = nn.Linear(width, n_classes)

    def forward(self, X):
        return self.output(self.body(X))


class SmallCNN(nn.Module):
    """CINCER's image network: Conv32-3x3, MaxPool2, Conv64-3x3, Dense64, Dropout, logits.

    Takes flat rows of ``side × side`` grey images (e.g. 8×8 digits) and
    reshapes them, so it works on the same ``(n, side²)`` arrays as the MLP.
    """

    def __init__(self, side, n_classes, dropout=0.2):
        super().__init__()
        self.side = side
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        )
        flat = 64 * (side // 2) ** 2
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(flat, 64), nn.ReLU(),
                                   nn.Dropout(dropout))
        self.output = nn.Linear(64, n_classes)

    def forward(self, X):
        return self.output(self.dense(self.conv(X.reshape(-1, 1, self.side, self.side))))


def skorch_defaults(*, device="cpu", max_epochs=100, lr=1e-3, batch_size=64):
    """skorch settings of CINCER's protocol: logits + cross-entropy, Adam, every row trained on."""
    return dict(criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=lr,
                max_epochs=max_epochs, batch_size=batch_size, train_split=None, verbose=0,
                device=device)


class StopAtTrainAccuracy(Callback):
    """Stop training once the epoch's training accuracy reaches ``threshold``.

    CINCER's protocol stops at 90% training accuracy for networks (70% for
    logistic regression): with noisy labels this keeps the model from
    memorising them and makes retraining per iteration fast.
    """

    def __init__(self, threshold=0.9):
        self.threshold = threshold

    def on_epoch_end(self, net, **kwargs):
        if net.history[-1].get("train_acc", 0.0) >= self.threshold:
            raise KeyboardInterrupt  # skorch's own way to end fit_loop early


def train_accuracy_stop(threshold=0.9):
    """skorch callbacks that score training accuracy and stop at ``threshold``."""
    return [
        ("train_acc", EpochScoring("accuracy", on_train=True, lower_is_better=False,
                                   name="train_acc")),
        ("stop_at_train_acc", StopAtTrainAccuracy(threshold)),
    ]


def default_classifier(n_features, n_classes, *, hidden=(64, 32), dropout=0.2, device="cpu",
                       max_epochs=100, lr=1e-3, batch_size=64, stop_at_train_accuracy=None,
                       **net_kwargs):
    """The network skclean uses when ``estimator=None``: an :class:`MLP` in skorch.

    Adam with learning rate ``1e-3`` for 100 epochs, as in the CINCER protocol,
    trained on every row it is given.  ``stop_at_train_accuracy`` (e.g. 0.9)
    ends training early at that training accuracy.  ``net_kwargs`` go to
    :class:`~skorch.NeuralNetClassifier` (e.g. ``optimizer__weight_decay``).
    """
    if stop_at_train_accuracy is not None:
        net_kwargs.setdefault("callbacks", train_accuracy_stop(stop_at_train_accuracy))
    params = skorch_defaults(device=device, max_epochs=max_epochs, lr=lr, batch_size=batch_size)
    params.update(net_kwargs)
    return NeuralNetClassifier(
        MLP,
        module__n_features=n_features,
        module__n_classes=n_classes,
        module__hidden=tuple(hidden),
        module__dropout=dropout,
        **params,
    )
