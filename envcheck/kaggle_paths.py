"""Kaggle's file system, as a kernel sees it: the one definition of its paths (mapsage takes
them from here), of how deep attached inputs are mounted below ``/kaggle/input``, and of the
variable that moves the whole tree elsewhere for a local rehearsal.
Standard library only (no imports at all)."""

KAGGLE = "/kaggle"
KAGGLE_INPUT = KAGGLE + "/input"
"""Attached data sets and kernel outputs, mounted read-only."""
KAGGLE_WORKING = KAGGLE + "/working"
"""The kernel's output: what the session leaves behind."""

MOUNT_DEPTH = 3
"""Folders below ``/kaggle/input`` an attached input is mounted at: ``<slug>`` (1) or
``<kind>/<owner>/<slug>`` (3: ``datasets``, ``notebooks``, ``models``)."""
SPARE_DEPTH = 1
"""One more folder level searched than the layouts above need (an archive that unpacks into a
folder of its own)."""

REHEARSAL_ROOT_ENV = "MAPSAGE_KAGGLE_ROOT"
"""Set in a rehearsal: a folder standing in for Kaggle's ``/kaggle`` (its ``input/`` and
``working/``); unset on Kaggle, where the paths above are used as they are."""
