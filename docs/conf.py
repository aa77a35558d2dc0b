"""Sphinx configuration for threaded-logging."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import threaded_logging  # noqa: E402

project = "threaded-logging"
author = "The threaded-logging authors"
copyright = "2026, The threaded-logging authors"
release = threaded_logging.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.intersphinx", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
intersphinx_mapping: dict = {}
nitpicky = False
