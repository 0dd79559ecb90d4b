"""MapSage's checkpoint code, one concern per module; this package imports nothing itself.

- :mod:`.safe_load`: the safe unpickler and every checkpoint load (no code from a checkpoint);
- :mod:`.names`: what a checkpoint file's name says (``iter_N.pth``, ``best_<metric>_iter_N.pth``);
- :mod:`.atomic`: the ``mapsage_atomic_local`` file backend mmengine saves checkpoints through;
- :mod:`.resume`: which checkpoint ``resume=auto`` takes (the newest valid one);
- :mod:`.resume_guard`: a checkpoint's metadata vetted before mmengine acts on it (the hook that
  applies it to every load is :mod:`mapsage.training.hooks.resume_guard`);
- :mod:`.resume_state`: a checkpoint's training state checked against the run resuming it.
"""
