"""No MapSage write follows a symbolic link (issue #20), and no run replaces an earlier run's
executed notebook (issue #21).

The class test takes the names from a real finished run's folder (so a file a run starts writing
tomorrow is covered without editing this test), plants a link at each in a new work_dir, half of
them pointing at victim files outside it and half dangling, plus links to a folder outside at
every log-folder name (a timestamp) of the next minutes, and runs the real training into it:
nothing outside may change or appear. ``mapsage predict --out`` and the executed notebook are
checked the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mapsage.errors import MapSageError, NotebookFailed
from mapsage.training.workdir_lock import LOCK_NAME

pytestmark = pytest.mark.slow


def _files_a_run_writes(finished_run: Path) -> tuple[list[str], list[str]]:
    """(the files a run left directly in its work_dir; those, the lock file a run holds while it
    runs, and NAME.tmp for each, where the old writers put their fixed temporary files). The
    ``<timestamp>/`` log folders are left out: a new run logs into a folder of its own start
    time (the test plants those names separately)."""
    left = sorted(p.name for p in finished_run.iterdir() if not p.is_dir())
    assert {"metrics.json", "report.md", "last_checkpoint", ".data_check.json"} <= set(left), \
        left  # the fixture is a whole run
    names = sorted({*left, LOCK_NAME})
    return left, names + [f"{name}.tmp" for name in names]


class Victims:
    """Links planted in ``folder``, one at each of ``names``, pointing outside it: at an existing
    file (a write through it changes that file) or dangling (a write through it creates a file
    outside). ``dangling``: None alternates, even names existing and odd ones dangling."""

    def __init__(self, folder: Path, outside: Path, names: list[str],
                 dangling: bool | None = None):
        self.outside, self.links = outside, {}
        outside.mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        for index, name in enumerate(names):
            target = outside / f"victim-{index}"
            if not (index % 2 if dangling is None else dangling):
                target.write_text(f"victim {index}: not MapSage's to write\n")
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).symlink_to(target)
            self.links[folder / name] = target
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.outside.iterdir())}

    def assert_untouched(self) -> None:
        after = self.snapshot()
        created = sorted(set(after) - set(self.before))
        assert not created, f"written through a dangling link: {created}"
        changed = sorted(n for n in self.before if after[n] != self.before[n])
        assert not changed, f"written through a link: {changed}"


def test_a_run_never_writes_through_a_link_at_any_name_it_writes(finished_run, tiny_training,
                                                                 tmp_path):
    left, names = _files_a_run_writes(finished_run)
    work_dir = tmp_path / "run"
    victims = Victims(work_dir, tmp_path / "outside", names)
    # mmengine logs into <work_dir>/<the second the run starts>/: links at the next 15 minutes
    logs_outside = tmp_path / "outside-logs"
    logs_outside.mkdir()
    now = int(time.time())
    for second in range(now - 5, now + 900):
        name = time.strftime("%Y%m%d_%H%M%S", time.localtime(second))
        (work_dir / name).symlink_to(logs_outside, target_is_directory=True)

    refused = tiny_training(work_dir, "resume=auto")  # resume: links at *.pth are not checkpoints
    victims.assert_untouched()
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert LOCK_NAME in refused.stderr and "symbolic link" in refused.stderr
    assert "Traceback" not in refused.stderr

    (work_dir / LOCK_NAME).unlink()  # what the refusal says to do
    proc = tiny_training(work_dir, "resume=auto")
    victims.assert_untouched()
    assert list(logs_outside.iterdir()) == [], "mmengine logged into a linked folder"
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    written = sorted(p.name for p in work_dir.iterdir() if p.is_file() and not p.is_symlink())
    assert set(written) >= set(left), (
        "the run wrote every file a run leaves, each as a file of its own, not a link")


# ---- mapsage predict --out ----------------------------------------------------------------

@pytest.fixture(scope="module")
def images(synthetic_root, tmp_path_factory) -> Path:
    """Three images of the synthetic Val split in a folder of their own."""
    folder = tmp_path_factory.mktemp("images")
    for image in sorted(synthetic_root.glob("Val/Urban/images_png/*.png"))[:3]:
        shutil.copy(image, folder / image.name)
    return folder


def _predict(finished_run: Path, images: Path, out: Path, **options):
    from mapsage.training.predict import predict

    return predict(finished_run / "iter_4.pth", images, out, device="cpu", progress=None,
                   **options)


def _names(images: Path) -> list[str]:
    return sorted(p.name for p in images.iterdir())


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize("where", ["label", "overlay"])
def test_predict_refuses_a_link_at_an_output_name_without_overwrite(finished_run, images,
                                                                     tmp_path, where, dangling):
    out = tmp_path / "out"
    first = _names(images)[0]
    name = first if where == "label" else f"overlays/{first}"
    victims = Victims(out, tmp_path / "outside", [name], dangling=dangling)
    with pytest.raises(MapSageError) as caught:
        _predict(finished_run, images, out)
    victims.assert_untouched()
    message = str(caught.value)
    assert str(out / name) in message and "symbolic link" in message and "--overwrite" in message


def test_predict_with_overwrite_replaces_links_never_writes_through_them(finished_run, images,
                                                                        tmp_path):
    out = tmp_path / "out"
    names = _names(images)
    planted = [names[0], names[1], f"overlays/{names[0]}", f"overlays/{names[1]}"]
    victims = Victims(out, tmp_path / "outside", planted)
    result = _predict(finished_run, images, out, overwrite=True)
    victims.assert_untouched()
    for path in [*result.labels, *result.overlays]:
        assert path.is_file() and not path.is_symlink(), path
    assert len(result.labels) == 3 and len(result.overlays) == 3


def test_predict_refuses_an_overlay_folder_that_is_a_link(finished_run, images, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "overlays").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(MapSageError, match="overlay folder"):
        _predict(finished_run, images, out, overwrite=True)
    assert list(elsewhere.iterdir()) == [], "nothing written into the linked folder"


# ---- the executed notebook ----------------------------------------------------------------

@pytest.fixture(scope="module")
def small_notebook(tmp_path_factory) -> Path:
    """A one-cell notebook that fails when its ``seed`` parameter is 13."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("seed = 0", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("assert seed != 13, 'unlucky seed'\nprint('ran')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path_factory.mktemp("nb") / "small.ipynb"
    nbformat.write(nb, path)
    return path


def _execute(notebook: Path, work_dir: Path, **parameters) -> Path:
    from mapsage.notebook.execute import execute

    return execute(notebook, parameters={"work_dir": str(work_dir), **parameters},
                   log_output=False)


def test_each_run_writes_a_new_notebook_never_through_a_link(small_notebook, tmp_path):
    work_dir = tmp_path / "run"
    victims = Victims(work_dir, tmp_path / "outside", ["small.ipynb", "small.2.ipynb"])
    first = _execute(small_notebook, work_dir)
    victims.assert_untouched()
    assert first == work_dir / "small.3.ipynb" and "ran" in first.read_text()
    kept = first.read_bytes()

    with pytest.raises(NotebookFailed, match="unlucky seed") as caught:
        _execute(small_notebook, work_dir, seed=13)
    assert str(work_dir / "small.4.ipynb") in str(caught.value)
    assert "unlucky seed" in (work_dir / "small.4.ipynb").read_text()
    assert first.read_bytes() == kept, "a failed run replaced the earlier run's notebook"
    assert _execute(small_notebook, work_dir) == work_dir / "small.5.ipynb"
    assert first.read_bytes() == kept
    victims.assert_untouched()


def test_an_output_path_that_is_a_link_is_refused(small_notebook, tmp_path):
    from mapsage.notebook.execute import execute

    victims = Victims(tmp_path / "out", tmp_path / "outside", ["executed.ipynb"])
    with pytest.raises(MapSageError, match="symbolic link"):
        execute(small_notebook, tmp_path / "out" / "executed.ipynb", log_output=False,
                parameters={"work_dir": str(tmp_path / "run")})
    victims.assert_untouched()


def test_a_refused_run_keeps_the_earlier_runs_notebook(finished_run, synthetic_root, tmp_path):
    """Issue #21: ``mapsage run`` into a finished run's work_dir without resume is refused by
    the training ("already holds checkpoints") and its failed notebook gets a new name."""
    work_dir = tmp_path / "demo"
    shutil.copytree(finished_run, work_dir)
    earlier = work_dir / "train_segformer_loveda.ipynb"
    earlier.write_text('{"the earlier run": "its executed notebook"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage", "run", "--quiet", "-p", "data_root",
         str(synthetic_root), "-p", "work_dir", str(work_dir), "-p", "max_iters", "10",
         "-p", "num_workers", "0"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "already holds checkpoints" in proc.stderr
    assert earlier.read_text() == '{"the earlier run": "its executed notebook"}\n'
    failed = work_dir / "train_segformer_loveda.2.ipynb"
    assert str(failed) in proc.stderr and "already holds checkpoints" in failed.read_text()
