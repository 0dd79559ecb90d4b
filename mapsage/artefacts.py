"""What a run leaves in its work_dir, each name defined once: the README's "What a run leaves"
table in code (``tests/unit/test_artefacts.py`` fails when the table stops naming one of them).
Read by the notebook, the CLI, the hooks, the Kaggle push and chain, and the noxfile; standard
library only (layer 1).

The checkpoints' own names (``iter_N.pth``, ``best_<metric>_iter_N.pth``) are mmengine's and are
matched in :mod:`mapsage.training.checkpoint.names`.
"""

from __future__ import annotations

NOTEBOOK_STEM = "train_segformer_loveda"
"""The training notebook (source ``notebooks/<stem>.py``, generated ``mapsage/notebooks/<stem>.ipynb``)
and its executed copy."""
NOTEBOOK_SUFFIX = ".ipynb"
TRAINING_NOTEBOOK = NOTEBOOK_STEM + NOTEBOOK_SUFFIX  # the packaged notebook (mapsage/notebooks/)
EXECUTED_NOTEBOOK = TRAINING_NOTEBOOK
"""The executed notebook in work_dir, named as the notebook; when taken, a later run writes
``<stem>.2.ipynb``, ... (:func:`executed_notebook`)."""


def executed_notebook(number: int = 1, stem: str = NOTEBOOK_STEM) -> str:
    """The name of a run's executed notebook: ``<stem>.ipynb`` for the first, then
    ``<stem>.2.ipynb``, ``<stem>.3.ipynb``, ... (the next free one)."""
    return f"{stem}{NOTEBOOK_SUFFIX}" if number == 1 else f"{stem}.{number}{NOTEBOOK_SUFFIX}"


METRICS = "metrics.json"  # scores, history, parameters, environment: the run's record
REPORT = "report.md"  # the table, the key parameters and the pictures
TRAINING_CURVE = "training_curve.png"  # training loss and validation mIoU/aAcc
CONFUSION_MATRIX = "confusion_matrix.png"  # row-normalised, of the final evaluation
PREDICTIONS = "predictions.png"  # image, ground truth and prediction per validation tile
PICTURES = (TRAINING_CURVE, CONFUSION_MATRIX, PREDICTIONS)

LAST_CHECKPOINT = "last_checkpoint"  # mmengine's CheckpointHook: the path of the newest save
VIS_DATA = "vis_data"  # mmengine's LocalVisBackend folder in each <timestamp>/ log folder
SCALARS = "scalars.json"  # in <timestamp>/vis_data/: one JSON object per logged step
DATA_CHECK_RECORD = ".data_check.json"  # the data check that passed (docs/data-check.md)
LOCK = ".mapsage.lock"  # a training run's claim on its work_dir, while it trains

ALL = (EXECUTED_NOTEBOOK, METRICS, REPORT, *PICTURES, LAST_CHECKPOINT, DATA_CHECK_RECORD, LOCK)
"""What the README's table lists in work_dir itself (the scalars sit in the log folders)."""
