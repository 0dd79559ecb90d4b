"""Issue 21's tracking request, the parts test_tracking.py leaves out: Weights & Biases takes its
key from Kaggle's secrets (the notebook's secret WANDB_API_KEY), and TensorBoard, the default, is
pinned in the lock the project installs."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap

import pytest

from envcheck.lockfile import read_pins
from mapsage.errors import MapSageError, ParamError
from mapsage.training import tracking

KEY = "k" * 40


@pytest.fixture()
def kaggle_secrets(tmp_path, monkeypatch):
    """Kaggle's own ``kaggle_secrets`` module (on its images only), standing in: a secret
    ``WANDB_API_KEY`` when ``SECRET`` is set on it, else the error Kaggle raises."""
    (tmp_path / "kaggle_secrets.py").write_text(textwrap.dedent("""
        SECRET = None

        class UserSecretsClient:
            def get_secret(self, name):
                if name != "WANDB_API_KEY" or SECRET is None:
                    raise ValueError("secret not attached to this notebook")
                return SECRET
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(tracking.KEY_NAME, "placeholder")
    monkeypatch.delenv(tracking.KEY_NAME)  # restored (absent or not) after the test
    import kaggle_secrets as module

    yield module
    sys.modules.pop("kaggle_secrets", None)


def test_wandb_takes_the_key_from_kaggles_secret(kaggle_secrets):
    kaggle_secrets.SECRET = KEY
    if importlib.util.find_spec("wandb") is None:
        # the key was found: what is missing now is the package, not the key
        with pytest.raises(MapSageError, match="pip install wandb") as caught:
            tracking.check_tracking("wandb")
        assert not isinstance(caught.value, ParamError)
    else:
        tracking.check_tracking("wandb")
    assert os.environ[tracking.KEY_NAME] == KEY, "wandb reads the key from WANDB_API_KEY"


def test_wandb_without_a_kaggle_secret_names_both_places_to_put_the_key(kaggle_secrets):
    with pytest.raises(ParamError) as caught:
        tracking.check_tracking("wandb")
    message = str(caught.value)
    assert "WANDB_API_KEY is not set and there is no Kaggle secret of that name" in message
    assert "Add-ons > Secrets" in message
    assert tracking.KEY_NAME not in os.environ


def test_an_environment_key_is_used_without_asking_kaggle(kaggle_secrets, monkeypatch):
    monkeypatch.setenv(tracking.KEY_NAME, "from-the-environment")
    kaggle_secrets.SECRET = KEY
    try:
        tracking.check_tracking("wandb")
    except MapSageError as error:  # only the package may be missing
        assert "pip install wandb" in str(error)
    assert os.environ[tracking.KEY_NAME] == "from-the-environment"


def test_tensorboard_the_default_is_pinned_in_the_lock(repo_root):
    assert tracking.PACKAGES["tensorboard"] == "tensorboard"
    requirements = (repo_root / "requirements.in").read_text().splitlines()
    assert "tensorboard" in [line.split("#")[0].strip() for line in requirements]
    pins = read_pins(repo_root / "requirements-lock.txt")
    assert pins.get("tensorboard"), "tensorboard has a pinned version in requirements-lock.txt"
    lock = (repo_root / "requirements-lock.txt").read_text()
    pinned = lock.split(f"\ntensorboard=={pins['tensorboard']} \\\n", 1)
    assert len(pinned) == 2 and pinned[1].lstrip().startswith("--hash=sha256:"), \
        "pinned with its hash, like every other pin"
