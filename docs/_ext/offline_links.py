"""Link names of other projects' objects without downloading their inventories.

intersphinx needs each project's ``objects.inv`` from the network. This
extension resolves the references that are left over (the ``missing-reference``
event) from the documentation URL patterns of a few projects instead:

- Python's standard library and builtins, NumPy, pandas, scikit-learn, PyTorch,
  skorch and Matplotlib, for ``py`` domain references (``:class:``, ``:func:``,
  ``:meth:``, ``:obj:``, type hints, numpydoc parameter types);
- the Python and NumPy glossary terms that numpydoc's default type aliases
  refer to (``:term:`python:iterable```, ``:term:`numpy:array_like```).

A name is linked only when it can be imported here, so a typo stays unlinked
rather than pointing at a page that does not exist. Short names, as they appear
in numpydoc type descriptions ("estimator : LogisticRegression or None"), are
expanded through :data:`SHORT_NAMES` first. When intersphinx has inventories
(an online build), it resolves these references before this extension is asked.
"""

import builtins
import functools
import importlib
import inspect
import sys

from docutils import nodes

# Short names used in the docstrings' type descriptions -> full dotted names.
SHORT_NAMES = {
    "LogisticRegression": "sklearn.linear_model.LogisticRegression",
    "Pipeline": "sklearn.pipeline.Pipeline",
    "NeuralNetClassifier": "skorch.NeuralNetClassifier",
    "NeuralNet": "skorch.NeuralNet",
    "Module": "torch.nn.Module",
    "nn.Module": "torch.nn.Module",
    "tensor": "torch.Tensor",
    "Tensor": "torch.Tensor",
    "LongTensor": "torch.Tensor",
    "np.ndarray": "numpy.ndarray",
    "ndarray": "numpy.ndarray",
    "RandomState": "numpy.random.RandomState",
    "np.random.RandomState": "numpy.random.RandomState",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "Axes": "matplotlib.axes.Axes",
    "Figure": "matplotlib.figure.Figure",
    "Line2D": "matplotlib.lines.Line2D",
    "Patch": "matplotlib.patches.Patch",
    "PathCollection": "matplotlib.collections.PathCollection",
    "PolyCollection": "matplotlib.collections.PolyCollection",
    "AxesImage": "matplotlib.image.AxesImage",
    "BarContainer": "matplotlib.container.BarContainer",
}

# intersphinx inventory names that may prefix a target (``python:None``).
_INVENTORY_NAMES = ("python", "numpy", "sklearn", "torch", "skorch")

# Prefixes written in other projects' docstrings -> the importable name.
_PREFIXES = {"np.": "numpy.", "pd.": "pandas.", "nn.": "torch.nn.", "plt.": "matplotlib.pyplot."}

PY = "https://docs.python.org/3/"
NUMPY = "https://numpy.org/doc/stable/"
PANDAS = "https://pandas.pydata.org/docs/reference/api/"
SKLEARN = "https://scikit-learn.org/stable/modules/generated/"
TORCH = "https://docs.pytorch.org/docs/stable/"
SKORCH = "https://skorch.readthedocs.io/en/stable/"
MPL = "https://matplotlib.org/stable/api/"

# Glossary terms and labels of numpydoc's default aliases (std domain).
_STD_TARGETS = {
    "term": {"python": PY + "glossary.html#term-{name}",
             "numpy": NUMPY + "glossary.html#term-{name}"},
    "ref": {"python:bltin-boolean-values": PY + "library/functions.html#bool",
            "numpy:arrays.scalars": NUMPY + "reference/arrays.scalars.html"},
}

# PyTorch objects documented on a module page rather than a page of their own.
_TORCH_PAGES = {
    "torch.Tensor": "tensors.html#torch.Tensor",
    "torch.device": "tensor_attributes.html#torch.device",
    "torch.dtype": "tensor_attributes.html#torch.dtype",
}
_TORCH_MODULE_PAGES = {"torch.random": "random.html", "torch.utils.data": "data.html"}
# Matplotlib modules documented on one page each.
_MPL_MODULE_PAGES = {"matplotlib.collections", "matplotlib.image", "matplotlib.container"}


def _locate(name):
    """Split an importable dotted name into (module, [attribute path], object)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        modname = ".".join(parts[:i])
        try:
            obj = importlib.import_module(modname)
        except Exception:  # noqa: BLE001 - any failure means "not a module"
            continue
        attrs = parts[i:]
        for attr in attrs:
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                return None
        return modname, attrs, obj
    return None


def _split_owner(modname, attrs):
    """(page name, anchor name): a method or attribute lives on its class's page."""
    full = ".".join([modname, *attrs])
    if len(attrs) > 1:
        return ".".join([modname, attrs[0]]), full
    return full, full


def _python_url(name, modname, attrs, obj):
    if modname == "builtins":
        first = getattr(builtins, attrs[0])
        if attrs[0] in {"None", "True", "False", "NotImplemented", "Ellipsis"}:
            page = "constants"
        elif inspect.isclass(first) and issubclass(first, BaseException):
            page = "exceptions"
        elif attrs[0] in {"list", "tuple", "range", "str", "bytes", "bytearray", "memoryview",
                          "set", "frozenset", "dict"} or len(attrs) > 1:
            page = "stdtypes"
        else:
            page = "functions"
        return f"{PY}library/{page}.html#{'.'.join(attrs)}"
    if not attrs:
        return f"{PY}library/{modname}.html#module-{modname}"
    return f"{PY}library/{modname}.html#{name}"


def _numpy_url(name, modname, attrs, obj):
    if attrs and not (callable(obj) or inspect.ismodule(obj)):
        return f"{NUMPY}reference/constants.html#{name}"  # numpy.inf, numpy.nan, ...
    if not attrs:
        return f"{NUMPY}reference/index.html"
    return f"{NUMPY}reference/generated/{name}.html"


def _pandas_url(name, modname, attrs, obj):
    return f"{PANDAS}{name}.html" if attrs else "https://pandas.pydata.org/docs/reference/index.html"


def _public(modname, attrs, obj, depth):
    """The name under which a project documents an object (no private modules)."""
    if not any(p.startswith("_") for p in modname.split(".")):
        return modname, attrs
    owner = obj if len(attrs) == 1 else None
    if owner is None or not hasattr(owner, "__module__"):
        return modname, attrs
    public = [p for p in owner.__module__.split(".") if not p.startswith("_")][:depth]
    return ".".join(public), attrs


def _sklearn_url(name, modname, attrs, obj):
    if not attrs:
        return f"https://scikit-learn.org/stable/api/{modname}.html"
    modname, attrs = _public(modname, attrs, obj, depth=2)
    page, anchor = _split_owner(modname, attrs)
    return f"{SKLEARN}{page}.html" + ("" if page == anchor else f"#{anchor}")


def _torch_url(name, modname, attrs, obj):
    if name in _TORCH_PAGES:
        return TORCH + _TORCH_PAGES[name]
    if name.startswith("torch.Tensor."):
        return f"{TORCH}generated/{name}.html"
    if modname in _TORCH_MODULE_PAGES:
        return f"{TORCH}{_TORCH_MODULE_PAGES[modname]}#{name}"
    if not attrs:
        return f"{TORCH}{modname.removeprefix('torch.')}.html" if modname != "torch" else \
            f"{TORCH}torch.html"
    page, anchor = _split_owner(modname, attrs)
    return f"{TORCH}generated/{page}.html" + ("" if page == anchor else f"#{anchor}")


def _skorch_url(name, modname, attrs, obj):
    # One page per submodule (net.html, classifier.html, callbacks.html, ...),
    # anchored at the name under that submodule.
    if not attrs:
        page = modname.split(".")[1] if "." in modname else "index"
        return f"{SKORCH}{page}.html"
    owner = getattr(sys.modules[modname], attrs[0])  # the class, for a method
    parts = getattr(owner, "__module__", modname).split(".")
    if len(parts) < 2 or parts[0] != "skorch":
        return f"{SKORCH}index.html"
    page = parts[1]
    return f"{SKORCH}{page}.html#skorch.{page}.{'.'.join(attrs)}"


def _matplotlib_url(name, modname, attrs, obj):
    if not attrs:
        return f"{MPL}{modname.removeprefix('matplotlib.')}_api.html"
    if modname in _MPL_MODULE_PAGES:
        return f"{MPL}{modname.removeprefix('matplotlib.')}_api.html#{name}"
    return f"{MPL}_as_gen/{name}.html"


# Top-level package -> URL builder.
PROJECTS = {
    "numpy": _numpy_url,
    "pandas": _pandas_url,
    "sklearn": _sklearn_url,
    "torch": _torch_url,
    "skorch": _skorch_url,
    "matplotlib": _matplotlib_url,
}


@functools.cache
def url_for(target):
    """The documentation URL of a dotted Python name, or None if we do not know it."""
    target = target.lstrip("~.")
    for name in _INVENTORY_NAMES:
        target = target.removeprefix(name + ":")
    target = SHORT_NAMES.get(target, target)
    for short, full in _PREFIXES.items():
        if target.startswith(short):
            target = full + target[len(short):]
    top = target.split(".")[0]
    if top in PROJECTS:
        builder = PROJECTS[top]
    elif top in sys.stdlib_module_names:
        builder = _python_url
    elif hasattr(builtins, top) and not top.startswith("_"):
        target = f"builtins.{target}"
        builder = _python_url
    else:
        return None
    found = _locate(target)
    if found is None:
        return None
    return builder(target, *found)


def _without_prefix(contnode, target):
    """``python:None`` is shown as ``None``, as intersphinx would show it."""
    project, sep, name = target.partition(":")
    text = contnode.astext()
    if not sep or project not in _INVENTORY_NAMES or not text.startswith(project + ":"):
        return contnode
    shown = contnode.deepcopy()
    shown.children = []
    shown += nodes.Text(text[len(project) + 1:])
    return shown


def _missing_reference(app, env, node, contnode):
    domain, reftype = node.get("refdomain"), node.get("reftype")
    target = node.get("reftarget", "")
    uri = None
    if domain == "py":
        uri = url_for(target)
        if uri is not None and not node.get("refexplicit"):
            contnode = _without_prefix(contnode, target)
    elif domain == "std" and reftype in _STD_TARGETS and ":" in target:
        project, _, name = target.partition(":")
        if reftype == "term" and project in _STD_TARGETS["term"]:
            uri = _STD_TARGETS["term"][project].format(name=name.replace(" ", "-"))
        else:
            uri = _STD_TARGETS["ref"].get(target)
        if uri is not None and not node.get("refexplicit"):
            contnode = nodes.literal(name, name) if reftype != "term" else \
                nodes.inline(name, name)
    if uri is None:
        return None
    title = target.partition(":")[2] if target.partition(":")[0] in _INVENTORY_NAMES else target
    ref = nodes.reference("", "", internal=False, refuri=uri, reftitle=title)
    ref["classes"].append("external")
    ref.append(contnode)
    return ref


def numpydoc_aliases(extra=None):
    """Aliases for numpydoc's ``numpydoc_xref_aliases``: type name -> ``:obj:`` role.

    Every value is a role: with ``numpydoc_xref_ignore = "all"`` numpydoc
    leaves a bare name that equals its alias (``torch.nn.Module``) unlinked.
    numpydoc adds its own defaults for the other builtins and NumPy names
    (``None``, ``int``, ``array-like``, ...).
    """
    names = {**SHORT_NAMES, **{full: full for full in (
        "torch.nn.Module", "torch.device", "torch.dtype", "pandas.DataFrame")}}
    names.update({"object": "object", "set": "set", "KeyboardInterrupt": "KeyboardInterrupt",
                  "bool": "bool", "boolean": "bool"})
    names.update(extra or {})
    aliases = {short: f":obj:`{short} <{full}>`" for short, full in names.items()}
    aliases["path-like"] = ":term:`path-like <python:path-like object>`"
    return aliases


def setup(app):
    app.connect("missing-reference", _missing_reference)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
