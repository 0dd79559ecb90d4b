"""Kaggle: build pushable notebooks from ``kaggle/`` definitions (``build``), push and follow
them (``push``), continue long runs (``continuation``, ``chain``). Where things are on Kaggle's
file system is a fact for every layer: :mod:`mapsage.kaggle_platform`.

This package is ``mapsage.kaggle``; ``import kaggle`` (absolute imports) is the official client.
"""
