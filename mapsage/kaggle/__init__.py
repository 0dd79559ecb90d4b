"""Kaggle: build pushable notebooks from ``kaggle/`` definitions, push and follow them, continue
long runs. Where things are on Kaggle's file system is a fact for every layer:
:mod:`mapsage.kaggle_platform`.

- ``build``: plan and write a built folder, from ``definition`` (kernel.json, params.yaml),
  ``metadata`` (kernel-metadata.json checked as the client would, the attached sources),
  ``bundle`` (the code the notebook carries, the vouched mmcv wheels), ``cells`` (the cells put
  in front of the notebook) and ``intro`` (the first cell's text);
- ``next_part`` builds a long run's next part, ``restore_part`` is what its restore cell runs on
  Kaggle; ``chain`` pushes part after part; ``push`` pushes and follows a kernel;
- ``bootstrap``, ``client``, ``secrets`` (with ``secret_patterns``, ``content_views``), ``slug``.

This package is ``mapsage.kaggle``; ``import kaggle`` (absolute imports) is the official client.
"""
