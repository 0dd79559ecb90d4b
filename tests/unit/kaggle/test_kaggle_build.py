"""Building the pushable Kaggle folder: metadata rules, the carried code, no credentials."""

from __future__ import annotations

import base64
import getpass
import hashlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from mapsage.errors import MapSageError, MetadataError
from mapsage.kaggle.build import build
from mapsage.kaggle.metadata import SOURCES_FILE, validate_metadata
from mapsage.kaggle.secrets import scan_folder as scan_for_credentials
from mapsage.kaggle.slug import slug_of
from mapsage.paths import KERNELS_DIR

KERNEL = KERNELS_DIR / "train-segformer-loveda"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build(KERNEL, owner="alice", out_dir=tmp_path_factory.mktemp("build"))


def _bundle_cell(nb):
    (cell,) = [c for c in nb.cells if "mapsage-bundle" in c.metadata.get("tags", [])]
    return cell


def _valid_meta() -> dict:
    return {"id": "alice/mapsage-segformer-loveda-training",
            "title": "MapSage SegFormer LoveDA Training", "code_file": "nb.ipynb",
            "language": "python", "kernel_type": "notebook", "is_private": True,
            "enable_gpu": True, "enable_internet": False, "dataset_sources": ["alice/loveda"],
            "kernel_sources": [], "model_sources": [], "docker_image_pinning_type": "original"}


def test_valid_metadata_passes():
    assert validate_metadata(_valid_meta()) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"title": "Seg"}, "at least five characters"),
    ({"code_file": ""}, "code_file is missing"),
    ({"id": None}, "id ('owner/slug') is missing"),
    ({"id": "alice/mapsage-segformer-loveda-training/3"}, "must not contain a version"),
    ({"id": "alice/my-kernel"}, "does not match the title's slug"),
    ({"id": "alice/abc"}, "at least five characters"),
    ({"id": "noslash"}, "must be specified in the form of '{username}/{kernel-slug}'"),
    ({"language": "julia"}, "language 'julia'"),
    ({"kernel_type": "app"}, "kernel_type 'app'"),
    ({"dataset_sources": ["loveda"]}, "dataset_sources entry 'loveda'"),
    ({"dataset_sources": ["a/b/c/d"]}, "Invalid dataset specification"),
    ({"kernel_sources": ["alice/abc"]}, "kernel_sources entry"),
    ({"model_sources": ["alice/model/pytorch/x"]}, "model_sources entry"),
    ({"docker_image_pinning_type": "pinned"}, "docker_image_pinning_type 'pinned'"),
    ({"enable_gpu": "yes"}, "enable_gpu = 'yes' is not a boolean"),
    ({"is_private": 1}, "is_private = 1 is not a boolean"),
])
def test_each_rule_of_the_official_client_is_enforced(change, expected):
    meta = {**_valid_meta(), **change}
    problems = validate_metadata(meta)
    assert any(expected in p for p in problems), problems


def test_code_file_must_exist_in_the_folder(tmp_path):
    problems = validate_metadata(_valid_meta(), tmp_path)
    assert any("does not exist" in p for p in problems)


def test_built_metadata(built):
    meta = json.loads((built / "kernel-metadata.json").read_text())
    assert meta["id"] == "alice/" + built.name
    assert meta["code_file"] == built.name + ".ipynb"
    assert meta["kernel_type"] == "notebook" and meta["language"] == "python"
    assert meta["docker_image_pinning_type"] == "original"
    assert meta["enable_gpu"] is True and meta["is_private"] is True
    # only what the user has: LoveDA; the bootstrap's wheelhouse comes as its kernel's output
    assert meta["dataset_sources"] == ["alice/loveda"]
    assert meta["kernel_sources"] == ["alice/" + slug_of(
        json.loads((KERNELS_DIR / "mapsage-bootstrap" / "kernel.json").read_text())["title"])]
    assert not set(meta) & {"notebook", "parameters", "loveda_source", "checkpoint_source",
                            "outputs_of", "measures"}
    assert validate_metadata(meta, built) == []
    sources = json.loads((built / SOURCES_FILE).read_text())["sources"]
    assert [(s["id"], s["required"]) for s in sources] == [
        ("alice/loveda", True), (meta["kernel_sources"][0], False)]


def test_built_notebook_has_injected_parameters_kernelspec_and_verified_code(built):
    nb = nbformat.read(built / f"{built.name}.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == "python3" and nb.metadata.kernelspec.language == "python"
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags[:4] == [["mapsage-intro"], ["mapsage-bundle"], ["mapsage-first-checks"],
                        ["mapsage-provision"]]
    assert "first_checks('/kaggle/input'," in nb.cells[2].source
    assert "loveda_source='alice/loveda'" in nb.cells[2].source
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert 'model = "b2"' in injected[0].source and 'device = "cuda"' in injected[0].source
    # the carried code unpacks to the real package files, sha256 as declared
    source = _bundle_cell(nb).source
    payload = base64.b64decode(source.split('b64decode("')[1].split('")')[0])
    assert hashlib.sha256(payload).hexdigest() == nb.metadata.mapsage.bundle_sha256
    names = zipfile.ZipFile(io.BytesIO(payload)).namelist()
    assert "mapsage/train.py" in names and "envcheck/__init__.py" in names
    assert "mapsage/configs/segformer_mit-b2_loveda-512x512.py" in names
    assert "requirements-lock.txt" in names
    assert not any("__pycache__" in n for n in names)


def test_bundle_is_deterministic(tmp_path):
    a = build(KERNEL, owner="alice", out_dir=tmp_path / "a")
    b = build(KERNEL, owner="alice", out_dir=tmp_path / "b")
    nb_a = nbformat.read(a / f"{a.name}.ipynb", as_version=4)
    nb_b = nbformat.read(b / f"{b.name}.ipynb", as_version=4)
    assert nb_a.metadata.mapsage.bundle_sha256 == nb_b.metadata.mapsage.bundle_sha256


def test_a_wrong_kaggle_parameter_fails_the_build(tmp_path):
    kernel = tmp_path / "k"
    kernel.mkdir()
    (kernel / "kernel.json").write_text((KERNEL / "kernel.json").read_text())
    (kernel / "params.yaml").write_text("model: b7\n")
    with pytest.raises(MapSageError, match="'model' = 'b7'"):
        build(kernel, owner="alice", out_dir=tmp_path / "out")


def test_bad_owner_is_refused(tmp_path):
    with pytest.raises(MetadataError, match="not a Kaggle user name"):
        build(KERNEL, owner="al ice/x", out_dir=tmp_path)


def test_bundle_holds_no_credentials(built, tmp_path, monkeypatch):
    secret = "0123456789abcdef0123456789abcdef"
    home = tmp_path / "kaggle-config"
    home.mkdir()
    (home / "kaggle.json").write_text(json.dumps({"username": "alice", "key": secret}))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home))
    monkeypatch.setenv("KAGGLE_KEY", secret)
    assert scan_for_credentials(built) == []
    # the scanner itself finds a planted secret (so the assertion above can fail)
    (built / "notes.txt").write_text(f"token {secret}")
    try:
        assert scan_for_credentials(built) == [f"{built / 'notes.txt'}: your own Kaggle key"]
    finally:
        (built / "notes.txt").unlink()


def test_repository_has_no_importable_kaggle_package(repo_root):
    assert not list((repo_root / "kaggle").rglob("*.py"))
    proc = subprocess.run([sys.executable, "-c", "import kaggle; print(kaggle.__file__)"],
                          cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "site-packages" in proc.stdout
    assert importlib.util.find_spec("kaggle").origin.endswith("site-packages/kaggle/__init__.py")


def test_checkpoint_source_is_attached_only_when_set(tmp_path):
    kernel = tmp_path / "defs" / "train"
    shutil.copytree(KERNEL, kernel)
    shutil.copytree(KERNELS_DIR / "mapsage-bootstrap", tmp_path / "defs" / "mapsage-bootstrap")
    spec = json.loads((kernel / "kernel.json").read_text())
    spec["checkpoint_source"] = "{owner}/stage1-weights"
    (kernel / "kernel.json").write_text(json.dumps(spec))
    out = build(kernel, owner="alice", out_dir=tmp_path / "a",
                parameters={"load_from": "/kaggle/input/stage1-weights/best.pth"})
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert meta["dataset_sources"] == ["alice/loveda", "alice/stage1-weights"]
    sources = json.loads((out / SOURCES_FILE).read_text())["sources"]
    assert {s["id"]: s["required"] for s in sources}["alice/stage1-weights"] is True


def test_built_notebooks_hold_no_path_of_the_build_machine(tmp_path, repo_root):
    """Item 5: no local absolute path, user name or environment value in what is pushed."""
    user = getpass.getuser()
    forbidden = {str(repo_root), str(Path.home()), str(tmp_path), f"/home/{user}",
                 f"/{user}/", sys.executable, sys.prefix}
    for definition in ("train-segformer-loveda", "mapsage-bootstrap"):
        out = build(KERNELS_DIR / definition, owner="alice", out_dir=tmp_path / "out")
        nb = nbformat.read(out / f"{out.name}.ipynb", as_version=4)
        assert "input_path" not in nb.metadata.papermill
        assert "output_path" not in nb.metadata.papermill
        payload = base64.b64decode(
            _bundle_cell(nb).source.split('b64decode("')[1].split('")')[0])
        texts = {path.name: path.read_text() for path in out.iterdir()}
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            texts.update({f"bundle:{n}": archive.read(n).decode("utf-8", "replace")
                          for n in archive.namelist()})
        leaks = [(name, bad) for name, text in texts.items() for bad in forbidden if bad in text]
        assert leaks == [], leaks


def test_bootstrap_measures_the_training_definition(tmp_path):
    out = build(KERNELS_DIR / "mapsage-bootstrap", owner="alice", out_dir=tmp_path,
                parameters={"batch_size": 4})
    meta = json.loads((out / "kernel-metadata.json").read_text())
    training = json.loads((KERNEL / "kernel.json").read_text())
    assert meta["dataset_sources"] == ["alice/loveda"] and meta["kernel_sources"] == []
    assert meta["machine_shape"] == training["machine_shape"]
    assert meta["enable_gpu"] is True
    nb = nbformat.read(out / f"{out.name}.ipynb", as_version=4)
    injected = nb.metadata.papermill.parameters
    assert injected["train"]["max_iters"] == 200 and injected["train"]["model"] == "b2"
    assert injected["train"]["batch_size"] == injected["full_run"]["batch_size"] == 4
    assert injected["full_run"]["max_iters"] == 16000


def test_measures_points_the_bootstrap_at_another_training_definition(tmp_path):
    """Your own data: the bootstrap measures train-own-data's run (its data set, its config,
    its length), not LoveDA's SegFormer."""
    out = build(KERNELS_DIR / "mapsage-bootstrap", owner="alice", out_dir=tmp_path,
                measures="train-own-data", data_source="alice/roofs",
                parameters={"config": "fcn_tiny-128x128.py"})
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert meta["dataset_sources"] == ["alice/roofs"] and meta["kernel_sources"] == []
    injected = nbformat.read(out / f"{out.name}.ipynb", as_version=4).metadata.papermill.parameters
    own = (KERNELS_DIR / "train-own-data" / "params.yaml").read_text()
    assert f"max_iters: {injected['full_run']['max_iters']}\n" in own  # 8000, not LoveDA's 16000
    assert injected["full_run"]["max_iters"] != 16000
    assert injected["train"]["config"] == injected["full_run"]["config"] == "fcn_tiny-128x128.py"
    assert injected["train"]["max_iters"] == 200
    record = json.loads((out / "mapsage-build.json").read_text())
    assert record["measures"] == "train-own-data"


def _bootstrap_copy(tmp_path, also):
    defs = tmp_path / "defs"
    shutil.copytree(KERNELS_DIR / "mapsage-bootstrap", defs / "mapsage-bootstrap")
    shutil.copytree(KERNEL, defs / KERNEL.name)
    spec = json.loads((defs / "mapsage-bootstrap" / "kernel.json").read_text())
    spec["also_for_gpus"] = also
    (defs / "mapsage-bootstrap" / "kernel.json").write_text(json.dumps(spec))
    return defs / "mapsage-bootstrap"


def test_bootstrap_builds_mmcv_also_for_listed_gpu_kinds(tmp_path):
    out = build(_bootstrap_copy(tmp_path, ["NvidiaTeslaP100"]), owner="alice",
                out_dir=tmp_path / "out")
    nb = nbformat.read(out / f"{out.name}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "mapsage-provision" in c.metadata.get("tags", []))
    assert "provision(also_for=[(6, 0)])" in cell.source
    compile(cell.source, "provision-cell", "exec")
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert "also_for_gpus" not in meta


def test_unknown_gpu_kind_fails_the_build(tmp_path):
    with pytest.raises(MetadataError, match="NvidiaA100"):
        build(_bootstrap_copy(tmp_path, ["NvidiaA100"]), owner="alice", out_dir=tmp_path / "o")


@pytest.mark.parametrize("bad", ["max_iters: [1, 2\n", "- a list\n", "lr: 1\nlr: [\n"])
def test_a_malformed_params_yaml_is_a_clear_error_before_anything_is_built(repo_root, tmp_path,
                                                                             bad):
    import shutil

    from mapsage.errors import MapSageError

    kernel = tmp_path / "kernel"
    shutil.copytree(KERNELS_DIR / "train-segformer-loveda", kernel)
    (kernel / "params.yaml").write_text(bad)
    out = tmp_path / "out"
    with pytest.raises(MapSageError, match="params.yaml"):
        build(kernel, owner="alice", out_dir=out)
    assert not out.exists()


def _first_checks(out: Path) -> str:
    nb = nbformat.read(out / f"{out.name}.ipynb", as_version=4)
    return next(c.source for c in nb.cells if "mapsage-first-checks" in c.metadata.get("tags", []))


def test_the_bootstraps_downloaded_wheel_is_the_one_the_training_notebook_trusts(tmp_path):
    """Issue 20: the mmcv wheel a training notebook may install from /kaggle/input is named by
    sha256 at build time, from the bootstrap output `mapsage push` downloaded; without it none."""
    digest = hashlib.sha256(b"the bootstrap's wheel").hexdigest()
    downloads = tmp_path / "runs" / "kaggle"
    (downloads / "mapsage-bootstrap").mkdir(parents=True)
    (downloads / "mapsage-bootstrap" / "bootstrap.json").write_text(json.dumps(
        {"wheelhouse": {"mmcv": {"key": "k", "wheel": "w.whl", "sha256": digest}}}))
    said = []
    out = build(KERNEL, owner="alice", out_dir=tmp_path / "a", downloads=downloads,
                log=said.append)
    cell = _first_checks(out)
    assert f"vouched=[{digest!r}]" in cell
    compile(cell, "first-checks", "exec")
    assert any("trusting the mmcv wheel of mapsage-bootstrap" in line for line in said)
    said.clear()
    out = build(KERNEL, owner="alice", out_dir=tmp_path / "b", downloads=tmp_path / "none",
                log=said.append)
    assert digest not in _first_checks(out)
    assert any("builds mmcv itself" in line for line in said)


@pytest.mark.parametrize("summary", ["{not json", json.dumps({"wheelhouse": {}}),
                                     json.dumps({"wheelhouse": {"mmcv": {"sha256": "../x"}}})])
def test_a_malformed_downloaded_bootstrap_summary_stops_the_build(tmp_path, summary):
    downloads = tmp_path / "runs" / "kaggle"
    (downloads / "mapsage-bootstrap").mkdir(parents=True)
    (downloads / "mapsage-bootstrap" / "bootstrap.json").write_text(summary)
    with pytest.raises(MapSageError, match="bootstrap.json"):
        build(KERNEL, owner="alice", out_dir=tmp_path / "a", downloads=downloads)
    assert not (tmp_path / "a").exists()


# --- issue 21: the build takes the run's parameters and sources on the command line ----------

def _injected(out: Path) -> dict:
    return nbformat.read(out / f"{out.name}.ipynb", as_version=4).metadata.papermill.parameters


def test_cli_parameters_and_loveda_source_go_into_the_built_kernel(tmp_path, capsys):
    from mapsage.cli import main

    (tmp_path / "mine.yaml").write_text("max_iters: 4000\nbatch_size: 4\nmodel: b1\n")
    assert main(["build", "kaggle", "--kernel", str(KERNEL), "--owner", "alice",
                 "--out", str(tmp_path / "out"), "-f", str(tmp_path / "mine.yaml"),
                 "-p", "max_iters", "8000", "-p", "amp", "no",
                 "--loveda-source", "bob/loveda-mirror"]) == 0
    out = tmp_path / "out" / "mapsage-segformer-loveda-training"
    injected = _injected(out)
    assert injected["max_iters"] == 8000, "-p wins over -f, which wins over params.yaml"
    assert injected["batch_size"] == 4 and injected["model"] == "b1"
    assert injected["amp"] is False and injected["val_interval"] == 2000
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert meta["dataset_sources"] == ["bob/loveda-mirror"]
    assert "loveda_source='bob/loveda-mirror'" in _first_checks(out)
    record = json.loads((out / "mapsage-build.json").read_text())
    assert record["parameters"] == {"max_iters": 8000, "batch_size": 4, "model": "b1",
                                    "amp": False}
    assert record["definition"] == "kaggle/train-segformer-loveda"
    assert record["loveda_source"] == "bob/loveda-mirror" and record["owner"] == "alice"


@pytest.mark.parametrize(("argv", "says"), [
    (["-p", "max_iters", "many"], "'max_iters' = 'many' is not an integer"),
    (["-p", "max_iter", "100"], "'max_iter' (did you mean 'max_iters'?)"),
    (["-p", "model", "b7"], "'model' = 'b7'"),
    (["-f", "missing.yaml"], "'missing.yaml' does not exist"),
    (["--loveda-source", "loveda"], "--loveda-source 'loveda' is not a Kaggle data set id"),
    (["--checkpoint-source", "a/b/c"], "--checkpoint-source 'a/b/c' is not a Kaggle data set"),
    (["--kernel", str(KERNEL), "--measures", "train-own-data"], "--measures train-own-data: "),
    (["--kernel", str(KERNELS_DIR / "mapsage-bootstrap"), "--measures", "no-such-run"],
     "'no-such-run' in measures"),
    (["--kernel", str(KERNELS_DIR / "mapsage-bootstrap"), "--measures", "../x"],
     "measures names '../x'"),
])
def test_a_bad_command_line_value_is_one_paragraph_before_anything_is_written(
        tmp_path, capsys, argv, says):
    from mapsage.cli import main

    out = tmp_path / "out"
    # without --kernel every definition is checked before the first one is written
    assert main(["build", "kaggle", "--owner", "alice", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mapsage build: error: ") and says in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_a_definition_copied_alone_falls_back_to_the_projects_definitions(tmp_path):
    """outputs_of / measures name definitions by folder; a copy without its siblings uses the
    project's kaggle/ ones and says so (today: '.../mapsage-bootstrap/kernel.json is missing')."""
    copy = tmp_path / "elsewhere" / "my-training"
    shutil.copytree(KERNEL, copy)
    said = []
    out = build(copy, owner="alice", out_dir=tmp_path / "a", log=said.append)
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert meta["kernel_sources"] == ["alice/mapsage-bootstrap"]
    assert any(f"outputs_of 'mapsage-bootstrap': no {copy.parent / 'mapsage-bootstrap'}" in line
               and str(KERNELS_DIR / "mapsage-bootstrap") in line for line in said), said
    boot = tmp_path / "elsewhere" / "my-bootstrap"
    shutil.copytree(KERNELS_DIR / "mapsage-bootstrap", boot)
    said.clear()
    out = build(boot, owner="alice", out_dir=tmp_path / "b", log=said.append)
    assert _injected(out)["full_run"]["max_iters"] == 16000
    assert any(f"using the project's definition {KERNEL}" in line for line in said), said


def test_a_sibling_definition_wins_over_the_projects(tmp_path):
    defs = tmp_path / "defs"
    shutil.copytree(KERNEL, defs / "train-segformer-loveda")
    shutil.copytree(KERNELS_DIR / "mapsage-bootstrap", defs / "mapsage-bootstrap")
    spec = json.loads((defs / "mapsage-bootstrap" / "kernel.json").read_text())
    (defs / "mapsage-bootstrap" / "kernel.json").write_text(
        json.dumps({**spec, "title": "My Own Bootstrap"}))
    said = []
    out = build(defs / "train-segformer-loveda", owner="alice", out_dir=tmp_path / "o",
                log=said.append)
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert meta["kernel_sources"] == ["alice/my-own-bootstrap"]
    assert not any("using the project's" in line for line in said)


def test_a_named_definition_found_nowhere_is_a_clear_error(tmp_path):
    copy = tmp_path / "defs" / "train"
    shutil.copytree(KERNEL, copy)
    spec = json.loads((copy / "kernel.json").read_text())
    (copy / "kernel.json").write_text(json.dumps({**spec, "outputs_of": ["no-such-kernel"]}))
    with pytest.raises(MapSageError, match="names 'no-such-kernel' in outputs_of, but neither"):
        build(copy, owner="alice", out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_the_readmes_kaggle_loop_is_commands_the_cli_takes(repo_root):
    """The README's "Run on Kaggle" loop needs no file edited: each command in it parses."""
    import re
    import shlex

    from mapsage.cli import build_parser

    readme = (repo_root / "README.md").read_text()
    section = readme.split("## Run on Kaggle\n")[1].split("\n## ")[0]
    script = "\n".join(re.findall(r"```bash\n(.*?)```", section, re.S)).replace("\\\n", " ")
    commands = [shlex.split(line, comments=True) for line in script.splitlines()
                if line.startswith("mapsage ")]
    assert [c[1] for c in commands] == ["build", "push", "build", "push", "metrics"]
    assert "--until-finished" in commands[3] and "-p" in commands[2]
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(command[1:])
        assert args.command == command[1]


# --- issue 21: a notebook that reads well on Kaggle ------------------------------------------

def _notebook(out: Path):
    return nbformat.read(out / f"{out.name}.ipynb", as_version=4)


def test_the_built_notebook_opens_with_this_kernels_run_and_its_cells(built):
    """Today the first cell is the 460 KB bundle and the title is cell 5; now the first cell is
    Markdown written from the injected parameters and the cells MapSage put in front."""
    nb = _notebook(built)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    text = first.source
    assert text.startswith("# MapSage SegFormer LoveDA Training\n")
    for said in ("`b2`", "`max_iters` = `16000`", "`batch_size` = `8`", "`val_interval` = `2000`",
                 "GPU T4 x2", "`cuda`, mixed precision on", "data set `alice/loveda`",
                 "ImageNet MiT-B2 encoder weights (`pretrained=auto`)",
                 "`/kaggle/working/run`", "12 h session minus 20 min",
                 "`crop_size` from the `b2` config",
                 "**MapSage bundle**", "**First checks**", "**Provision**",
                 "`notebooks/train_segformer_loveda.py`"):
        assert said in text, said
    assert "Continue" not in text, "no continuation cell in a first part"
    assert "b64decode" not in text and len(text) < 5000
    order = [text.index(f"**{name}**") for name in ("MapSage bundle", "First checks",
                                                     "Provision")]
    assert order == sorted(order)


def test_the_intro_follows_the_command_lines_parameters_and_a_continuation(tmp_path):
    out = build(KERNEL, owner="alice", out_dir=tmp_path, log=lambda *_: None,
                parameters={"model": "b1", "max_iters": 8000, "amp": False, "time_limit": 5400,
                            "gpus": 1, "work_dir": "/kaggle/working/b1 | run"},
                loveda_source="bob/loveda-mirror",
                continue_from="alice/mapsage-segformer-loveda-training")
    nb = _notebook(out)
    text = nb.cells[0].source
    for said in ("`b1`", "segformer_mit-b1_loveda-512x512.py", "`max_iters` = `8000`",
                 "mixed precision off", "`time_limit` = `5400` s (1 h 30 min)", "; one training process",
                 "data set `bob/loveda-mirror`", "`/kaggle/working/b1 \\| run`",
                 "resumed from the checkpoints of `alice/mapsage-segformer-loveda-training`",
                 "**Continue**"):
        assert said in text, said
    assert "16000" not in text and "`b2`" not in text
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags[:5] == [["mapsage-intro"], ["mapsage-bundle"], ["mapsage-continue"],
                        ["mapsage-first-checks"], ["mapsage-provision"]]


def test_the_bootstraps_intro_names_the_measured_stretch_and_the_full_run(tmp_path):
    out = build(KERNELS_DIR / "mapsage-bootstrap", owner="alice", out_dir=tmp_path,
                log=lambda *_: None)
    text = _notebook(out).cells[0].source
    assert text.startswith("# MapSage Bootstrap\n")
    for said in ("measures the recipe of `train-segformer-loveda` (`max_iters` = `16000`)",
                 "`max_iters` = `200`", "`bootstrap.json`", "GPU T4 x2",
                 "`notebooks/kaggle_bootstrap.py`"):
        assert said in text, said
    assert "push --until-finished" not in text


def test_the_bundle_cell_is_folded_away_and_its_payload_comes_last(built):
    nb = _notebook(built)
    cell = _bundle_cell(nb)
    assert nb.cells.index(cell) == 1
    assert cell.metadata["jupyter"] == {"source_hidden": True}
    assert cell.metadata["_kg_hide-input"] is True
    assert "collapsed" not in cell.metadata, "its output (where the code went) stays visible"
    lines = cell.source.splitlines()
    assert all("b64decode(\"" not in line for line in lines[:-1])
    assert lines[-1].startswith("_unpack_mapsage(") and len(lines[-1]) > 100_000
    assert lines[0].startswith("# MapSage bundle:")
    nbformat.validate(nb)
    # nbformat's schema names the field (its own check of it is lax): read it from the schema
    schema = json.loads((Path(nbformat.__file__).parent / "v4" / "nbformat.v4.5.schema.json")
                        .read_text())
    assert "source_hidden" in schema["definitions"]["code_cell"]["properties"]["metadata"][
        "properties"]["jupyter"]


def test_the_folded_bundle_cell_still_unpacks_the_code(built, tmp_path):
    """The hidden cell runs as it is, in a fresh interpreter: the code lands on the import path."""
    source = _bundle_cell(_notebook(built)).source
    probe = source + "\nimport mapsage.kaggle_platform as m; print('from', m.__file__)\n"
    (tmp_path / "cell.py").write_text(probe)
    proc = subprocess.run([sys.executable, "cell.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    digest = _notebook(built).metadata.mapsage.bundle_sha256
    assert f"MapSage code {digest[:12]} unpacked to /tmp/mapsage-src-{digest[:12]}" in proc.stdout
    assert f"from /tmp/mapsage-src-{digest[:12]}/mapsage/kaggle_platform.py" in proc.stdout


def test_no_built_notebook_tells_a_kaggle_reader_to_edit_a_repository_file(tmp_path):
    """The notebooks' own introductions are true on Kaggle too: no 'with no parameters it trains
    a tiny SegFormer on the CPU' under a b2 run on two T4s, no 'Edit notebooks/...'."""
    for definition in ("train-segformer-loveda", "mapsage-bootstrap"):
        out = build(KERNELS_DIR / definition, owner="alice", out_dir=tmp_path,
                    log=lambda *_: None)
        markdown = "\n".join(c.source for c in _notebook(out).cells if c.cell_type == "markdown")
        assert "With no parameters" not in markdown
        assert not re.search(r"\bEdit `(mapsage/)?notebooks", markdown), definition
        assert "never the `.ipynb`" not in markdown


def test_a_tiny_cpu_build_says_so(tmp_path):
    out = build(KERNEL, owner="alice", out_dir=tmp_path, log=lambda *_: None,
                parameters={"model": "tiny", "device": "cpu", "max_iters": None})
    text = _notebook(out).cells[0].source
    assert "`tiny`" in text and "mixed precision on" not in text
    assert "`cpu`, `amp` set, but mixed precision applies on CUDA only" in text
    assert "`max_iters` from the `tiny` config" in text
    assert "random (`pretrained=auto`: the tiny model has no published weights)" in text
