"""Adapter for skorch ``NeuralNetClassifier`` and plain ``torch.nn.Module`` models."""

import copy
import signal
import threading
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.callbacks import Callback, EpochScoring
from skorch.dataset import Dataset as SkorchDataset
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from .._sparse import as_dtype, dense_rows, is_sparse, rows_per_chunk
from ._base import _CHUNK, ModelAdapter
from ._networks import StopAtTrainAccuracy, skorch_defaults


def _last_linear(module):
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("The module has no nn.Linear layer; skclean needs one as its last layer.")
    return linears[-1]


def is_module_class(obj):
    """Whether ``obj`` is a subclass of ``nn.Module`` (skorch takes a class or an instance)."""
    return isinstance(obj, type) and issubclass(obj, nn.Module)


def _check_module_class(cls):
    """A module class skorch can build without arguments, or a TypeError saying what to pass."""
    import inspect

    needed = [p.name for p in inspect.signature(cls).parameters.values()
              if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if needed:
        raise TypeError(
            f"Got the module class {cls.__name__}, whose constructor needs "
            f"{', '.join(needed)}: pass an instance, {cls.__name__}(...), or "
            f"NeuralNetClassifier({cls.__name__}, "
            + ", ".join(f"module__{n}=..." for n in needed) + ").")


def wrap_module(module, *, device="cpu", max_epochs=100, lr=1e-3, batch_size=64):
    """Wrap a plain ``nn.Module`` that returns logits into a skorch classifier.

    ``module`` is an instance (wrapped as it is, a deep copy), or a class
    whose constructor needs no arguments: skorch builds it at ``initialize``,
    so its initial weights are drawn from the adapter's ``random_state``.
    The defaults follow the CINCER protocol (Adam, 100 epochs).  The whole
    training set is used for training (``train_split=None``).
    """
    if is_module_class(module):
        _check_module_class(module)
    return NeuralNetClassifier(
        module=module if is_module_class(module) else copy.deepcopy(module),
        **skorch_defaults(device=device, max_epochs=max_epochs, lr=lr, batch_size=batch_size),
    )


class WeightedSoftCrossEntropy(nn.Module):
    """Cross-entropy on soft targets with per-row weights, packed as ``[T | w]``.

    Lets a skorch net train on CHEF's objective (Eq. 1): probabilistic labels,
    uncleaned rows weighted by γ, mean over rows.
    """

    def forward(self, logits, packed):
        T, w = packed[:, :-1], packed[:, -1]
        if logits.ndim == 1 or logits.shape[1] == 1:  # one logit: binary cross-entropy
            z = logits.reshape(-1)
            return (w * F.binary_cross_entropy_with_logits(z, T[:, 1], reduction="none")).mean()
        return (w * -(T * torch.log_softmax(logits, dim=1)).sum(1)).mean()


class _SparseBatches(SkorchDataset):
    """skorch's Dataset over CSR rows, fetched a mini-batch at a time.

    skorch slices a sparse ``X`` row by row (a scipy slice costs ~70 µs, more
    than the network's step on small data); torch's DataLoader calls
    ``__getitems__`` with a whole batch instead: one CSR slice and one dense
    copy of the batch's rows, never of ``X``.
    """

    def __getitems__(self, indices):
        Xb = self.X[np.asarray(indices)].toarray()
        yb = [None] * len(indices) if self.y is None else self.y[np.asarray(indices)]
        return [self.transform(Xb[i], yb[i]) for i in range(len(indices))]


@contextmanager
def _sparse_batches(net, X):
    """Train ``net`` on CSR ``X`` through :class:`_SparseBatches` (when it uses skorch's own
    Dataset class; a user's dataset is left as it is)."""
    if not (is_sparse(X) and net.dataset is SkorchDataset):
        yield
        return
    net.dataset = _SparseBatches
    try:
        yield
    finally:
        net.dataset = SkorchDataset


class _Checkpointer(Callback):
    """Keep ``(epoch, lr, state_dict)`` every ``every`` epochs (for TracIn)."""

    def __init__(self, store, every):
        self.store = store
        self.every = every

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every == 0:
            lr = net.optimizer_.param_groups[0]["lr"]
            state = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
            self.store.append((epoch, lr, state))


@contextmanager
def _user_interrupts_propagate():
    """Re-raise a Ctrl-C that arrives while skorch trains.

    skorch ends ``fit_loop`` on ``KeyboardInterrupt`` and carries on (its
    early-stopping callbacks raise it on purpose), so a person's Ctrl-C
    would leave an under-trained model and the cleaning would go on.  A
    SIGINT seen during training is remembered and raised again after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen = []
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        seen.append(signum)
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt("interrupted while the model was training")


class TorchAdapter(ModelAdapter):
    """Wrap a skorch :class:`~skorch.NeuralNetClassifier` (or a plain module).

    The module's last ``nn.Linear`` layer must produce the logits: either the
    module returns them (``criterion=CrossEntropyLoss``) or it returns their
    softmax (skorch's default ``NLLLoss``).  Its input, read with a forward
    hook, is the penultimate feature vector used by last-layer influence.

    Notes
    -----
    * ``train_split`` is set to ``None``: skorch would otherwise hold out 20%
      of the rows, and influence must be computed over the rows actually
      trained on.
    * :meth:`fit` restarts from the same initial weights every time (drawn once
      from ``random_state``), as in CINCER's retrain-per-iteration protocol;
      :meth:`continue_fit` keeps training from the current weights.
    * Every training call runs under :func:`torch.random.fork_rng` with a seed
      drawn from ``random_state``, so results are reproducible and the
      caller's global torch RNG is left alone.
    * ``optimizer__weight_decay`` is read as the L2 strength of the objective.
    """

    trains_in_epochs = True

    def __init__(self, net, *, device=None, dtype=torch.float32, random_state=None,
                 checkpoint_every=None):
        if isinstance(net, nn.Module) or is_module_class(net):
            net = wrap_module(net, device=device or "cpu")
        elif not isinstance(net, NeuralNetClassifier | NeuralNetBinaryClassifier):
            raise TypeError(
                "Expected a skorch NeuralNetClassifier or NeuralNetBinaryClassifier, or a "
                f"torch.nn.Module (instance or class), got {type(net).__name__}."
            )
        elif device is not None:
            net.set_params(device=device)
        net.set_params(train_split=None)
        criterion = net.criterion
        crit_cls = criterion if isinstance(criterion, type) else type(criterion)
        # skorch's binary net: one logit per row, sigmoid and BCE (the head is SigmoidHead)
        self._binary = isinstance(net, NeuralNetBinaryClassifier)
        if self._binary:
            if not issubclass(crit_cls, nn.BCEWithLogitsLoss):
                raise ValueError("NeuralNetBinaryClassifier needs its default "
                                 "criterion=BCEWithLogitsLoss (the module returns one logit); "
                                 f"got {crit_cls.__name__}.")
            self._outputs_proba = False
        elif issubclass(crit_cls, nn.NLLLoss):
            self._outputs_proba = True
        elif issubclass(crit_cls, nn.CrossEntropyLoss):
            self._outputs_proba = False
        else:
            raise ValueError(
                "Use criterion=CrossEntropyLoss (module returns logits) or NLLLoss "
                f"(module returns probabilities); got {crit_cls.__name__}."
            )
        self.net = net
        self.dtype = dtype
        self.device = torch.device(net.device)
        self._rng = check_random_state(random_state)
        self._initial_state = None
        self.checkpoint_every = checkpoint_every
        self.checkpoints_ = []
        if getattr(net, "initialized_", False):
            self._attach()

    # ------------------------------------------------------------------ training
    @contextmanager
    def _seeded(self):
        seed = int(self._rng.randint(np.iinfo(np.int32).max))
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def set_classes(self, classes):
        super().set_classes(classes)
        if getattr(self.net, "initialized_", False) and self._initial_state is None:
            # an already-trained net (prefit): its label set is the one declared here
            self.classes_ = self._given_classes
            self._init_head(self._linear.out_features)
            self.n_features = self._first_width()
        return self

    def _first_width(self):
        # the input width is known only when the first layer with weights is a Linear (a
        # convolution's input is an image, whose flat width no layer records)
        first = next((m for m in self.net.module_.modules()
                      if not list(m.children()) and any(True for _ in m.parameters(False))),
                     None)
        return first.in_features if isinstance(first, nn.Linear) else None

    @property
    def _linear(self):
        # looked up on the live module every time: a stored reference would point at a
        # copy after unpickling (skorch pickles the module separately)
        return _last_linear(self.net.module_)

    def _attach(self):
        self.has_bias = self._linear.bias is not None
        wd = self.net.get_params().get("optimizer__weight_decay", 0.0)
        self.l2 = float(wd or 0.0)

    def _xy(self, X, y):
        np_dtype = torch.empty((), dtype=self.dtype).numpy().dtype
        Xn = as_dtype(X, np_dtype)  # skorch takes CSR
        # class indices; a binary net's BCE takes them as floats
        yi = self.encode(y).cpu().numpy().astype(np_dtype if self._binary else np.int64)
        return Xn, yi

    def _train(self, X, y, sample_weight, epochs):
        y = np.asarray(y)
        weighted = sample_weight is not None and not np.allclose(sample_weight, sample_weight[0])
        if y.ndim == 2 or weighted:
            return self._train_weighted(X, y, sample_weight, epochs)
        Xn, yi = self._xy(X, y)
        self.checkpoints_ = []
        callbacks = []
        if self.checkpoint_every:
            callbacks = [_Checkpointer(self.checkpoints_, self.checkpoint_every)]
        saved = self.net.callbacks_
        self.net.callbacks_ = list(saved) + [(f"_ckpt{id(self)}", cb) for cb in callbacks]
        try:
            with _user_interrupts_propagate(), self._seeded(), _sparse_batches(self.net, Xn):
                self.net.partial_fit(Xn, yi, epochs=epochs)
        finally:
            self.net.callbacks_ = saved
        self.n_fit_ = Xn.shape[0]
        return self

    def _train_weighted(self, X, y, sample_weight, epochs):
        """Train on soft targets and/or row weights through a packed-target criterion.

        The net's criterion is swapped for :class:`WeightedSoftCrossEntropy`
        for this call only (its prediction path is unchanged).
        """
        if self._outputs_proba:
            raise ValueError("Soft or weighted training needs a module that returns logits "
                             "(criterion=CrossEntropyLoss).")
        np_dtype = torch.empty((), dtype=self.dtype).numpy().dtype
        T = self.encode(y).cpu().numpy()
        if T.ndim == 1:
            T = (T[:, None] == np.arange(len(self.classes_))[None]).astype(np_dtype)
        w = np.ones(len(T)) if sample_weight is None else np.asarray(sample_weight)
        packed = np.hstack([T, w[:, None]]).astype(np_dtype)
        net = self.net
        saved, saved_cbs = net.criterion_, net.callbacks_
        net.criterion_ = WeightedSoftCrossEntropy()
        # scoring callbacks (e.g. train accuracy) cannot read packed targets: bypassed here
        net.callbacks_ = [(n, cb) for n, cb in saved_cbs
                          if not isinstance(cb, EpochScoring | StopAtTrainAccuracy)]
        if self._binary:  # its check wants 1-D targets; packed ones are (n, 3) on purpose
            net.check_data = lambda X, y: None
        try:
            with _user_interrupts_propagate():
                try:
                    with self._seeded(), _sparse_batches(net, X):
                        net.fit_loop(as_dtype(X, np_dtype), packed, epochs=epochs)
                except KeyboardInterrupt:  # skorch's early-stop signal inside fit_loop
                    pass
        finally:
            net.criterion_, net.callbacks_ = saved, saved_cbs
            net.__dict__.pop("check_data", None)
        self.n_fit_ = len(T)
        return self

    def fit(self, X, y, sample_weight=None):
        X = X if is_sparse(X) else np.asarray(X)
        if self._initial_state is None:
            if np.asarray(y).ndim == 2 and getattr(self, "_given_classes", None) is None:
                self._given_classes = np.arange(np.asarray(y).shape[1])
            self._set_classes(y)
        self.n_features = X.shape[1] if X.ndim == 2 else None
        if self._initial_state is None:
            with self._seeded():
                self.net.initialize()
            self.net.module_.to(device=self.device, dtype=self.dtype)
            self._attach()
            self._init_head(self._linear.out_features)
            self._check_logits(X[: min(X.shape[0], 8)])
            self._initial_state = copy.deepcopy(self.net.module_.state_dict())
        else:
            self.net.module_.load_state_dict(self._initial_state)
            self.net.initialize_optimizer()
            self.net.initialize_history()
        return self._train(X, y, sample_weight, epochs=None)

    def partial_fit(self, X, y, sample_weight=None, *, seen=None, epochs=1):
        """``epochs`` (one, as skorch's ``partial_fit``) over the new rows, from the current
        weights; the rows seen before are not revisited."""
        return self.continue_fit(X, y, sample_weight, epochs=epochs)

    def continue_fit(self, X, y, sample_weight=None, epochs=None):
        if self._initial_state is None:
            return self.fit(X, y, sample_weight)
        return self._train(X if is_sparse(X) else np.asarray(X), y, sample_weight, epochs)

    def _check_logits(self, X):
        """Fail early if the last nn.Linear does not produce the model's logits."""
        U, Z = self.last_layer_outputs(X)  # leaves the module in eval mode
        with torch.no_grad():
            out = self._as_logits(self.net.module_(dense_rows(self.to_tensor(X))))
            p_model = out if self._outputs_proba else self.head.proba(out)
        if not torch.allclose(self.head.proba(Z), p_model, atol=1e-4, rtol=1e-3):
            raise ValueError(
                "The module's last nn.Linear layer must produce its logits: return them "
                "(criterion=CrossEntropyLoss) or their softmax (criterion=NLLLoss)."
            )

    # ------------------------------------------------------------------ forward
    def last_layer_outputs(self, X):
        module = self.net.module_
        if module.training:
            # left in eval mode: skorch switches to train mode at every epoch itself,
            # and toggling a module tree costs more than a small forward pass
            module.eval()
        store = []
        handle = self._linear.register_forward_hook(lambda m, i, o: store.append((i[0], o)))
        try:
            Xt = self.to_tensor(X)
            step = rows_per_chunk(Xt, _CHUNK)
            with torch.no_grad():
                for s in range(0, Xt.shape[0], step):
                    module(dense_rows(Xt[s : s + step]))  # sparse rows: densified per chunk
        finally:
            handle.remove()
        U = torch.cat([u.reshape(u.shape[0], -1) for u, _ in store])
        Z = torch.cat([z for _, z in store])
        return U, Z

    def _last_layer(self):
        return self._linear.weight, self._linear.bias

    def _param_items(self):
        return [(n, p, True) for n, p in self.net.module_.named_parameters() if p.requires_grad]

    def _functional(self, which, X):
        # dropout off, batch-norm statistics frozen: influence is taken at θ
        self.net.module_.eval()
        return super()._functional(which, X)

    def _functional_logits(self, params, X):
        out = self._as_logits(functional_call(self.net.module_, params, (X,)))
        # log-softmax outputs are valid logits (softmax is shift-invariant).
        return torch.log(out) if self._outputs_proba else out

    def _as_logits(self, out):
        """The module's output as ``(n, K)``: a binary net's ``(n,)`` logits as one column."""
        return out.reshape(out.shape[0], -1) if self._binary else out

    # ------------------------------------------------------------------ state
    @property
    def model(self):
        return self.net

    def get_state(self):
        return copy.deepcopy(self.net.module_.state_dict())

    def set_state(self, state):
        self.net.module_.load_state_dict(state)

    def fit_with_checkpoints(self, X, y, n_checkpoints):
        """Fit from scratch keeping ``n_checkpoints`` evenly spaced epoch snapshots.

        Each checkpoint's weight ``eta_t`` is the learning rate in force at it
        (TracIn-CP, Pruthi et al. 2020).
        """
        every = max(1, self.net.max_epochs // n_checkpoints)
        previous, self.checkpoint_every = self.checkpoint_every, every
        try:
            self.fit(X, y)
        finally:
            self.checkpoint_every = previous
        return [(lr, state) for _, lr, state in self.checkpoints_[-n_checkpoints:]]
