"""Bundled models and data (``.npz`` / JSON only, no pickles); see ``data/scripts/`` for how each was made."""
