"""Sphinx configuration for skclean."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
import skclean  # noqa: E402

project = "skclean"
author = "skclean developers"
copyright = "2026, skclean developers"
version = release = skclean.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

# Links to other projects' docs need their inventories from the network; CI
# builds offline, so they are only used when SKCLEAN_DOCS_ONLINE=1.
intersphinx_mapping = {} if not os.environ.get("SKCLEAN_DOCS_ONLINE") else {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
}
intersphinx_timeout = 5

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "subsection_order": ["../examples/cleaning", "../examples/detection",
                         "../examples/influence"],
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reference_url": {"skclean": None},
}

html_theme = "pydata_sphinx_theme"
html_title = "skclean"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn's generated set_*_request methods cite sklearn's own glossary.
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    # ClassifierMixin.score's docstring links into scikit-learn's own user guide
    if getattr(obj, "__qualname__", "").startswith("ClassifierMixin."):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
