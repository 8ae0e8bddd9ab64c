"""Bundled models and data (``.npz`` / JSON, no pickles), installed as ``lrpref.data``.

Each file is made by a script in ``data/scripts/``; ``lrpref.datasets`` loads them.
"""
