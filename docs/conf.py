"""Sphinx configuration for skclean."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))
from offline_links import numpydoc_aliases  # noqa: E402

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
    "offline_links",  # docs/_ext: links to Python, NumPy, scikit-learn, torch, skorch offline
    "landing_figure",  # docs/_ext: draws the front page's figure at build time
]

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
# Link the types in Parameters/Returns sections ("estimator : LogisticRegression
# or None"): only the names in the alias table, every other word stays text.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
numpydoc_xref_aliases = numpydoc_aliases({
    "CleaningCurveDisplay": "skclean.CleaningCurveDisplay",
    "DetectionDisplay": "skclean.DetectionDisplay",
    "InfluenceDisplay": "skclean.InfluenceDisplay",
    "QuestionDisplay": "skclean.QuestionDisplay",
    "ModelAdapter": "skclean.models.ModelAdapter",
    "SoftmaxRegression": "skclean.models.SoftmaxRegression",
    "LastLayerGrads": "skclean.models.LastLayerGrads",
    "OracleError": "skclean.questions.OracleError",
    "Journal": "skclean.questions.Journal",
})

# Links to other projects' docs need their inventories from the network; CI
# builds offline, so they are only used when SKCLEAN_DOCS_ONLINE=1. Offline,
# docs/_ext/offline_links.py builds the same links from URL patterns.
intersphinx_mapping = {} if not os.environ.get("SKCLEAN_DOCS_ONLINE") else {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
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
    # "Examples using X" at the end of each API page (docs/_templates/class.rst);
    # sphinx-gallery writes an empty file for objects no example uses.
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skclean",),
}

html_theme = "pydata_sphinx_theme"
html_title = "skclean"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
# Top-level pages without children: no empty "Section Navigation" column.
html_sidebars = {page: [] for page in ("index", "install", "quickstart", "benchmarks")}
html_static_path = ["_static"]
html_css_files = ["skclean.css"]  # wide tables, landing figure
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
