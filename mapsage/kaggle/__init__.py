"""Kaggle: build pushable notebooks from ``kaggle/`` definitions (``build``), push and follow
them (``push``), and find things on Kaggle's file system (``env``).

This package is ``mapsage.kaggle``; ``import kaggle`` (absolute imports) is the official client.
"""
