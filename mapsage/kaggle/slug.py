"""The slug Kaggle derives from a kernel title: one function, used by the build and by
continuations (which find a definition from the slug of the kernel they continue)."""

from __future__ import annotations


def slug_of(title: str) -> str:
    """The slug Kaggle derives from a kernel title (python-slugify, as the client does)."""
    from slugify import slugify  # python-slugify, as the Kaggle client uses

    return slugify(title)
