"""Training with mmengine's Runner: config assembly, preflight, checkpoints, resume, plugins.

``python -m mapsage.train`` (``mapsage/train.py``) is the thin entry point that uses these.
"""
