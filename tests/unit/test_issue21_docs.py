"""Issue 21's "Docs that agree with behaviour": each fact is stated once, where the others point,
and agrees with its source (the measurement in bench/RESULTS.md, the code's constant, the
definition's parameters). The issue found: the demo "about 40 s", doctor "about two seconds",
B2 80k in the README against 16,000 in long-runs.md and the Kaggle definition, the search depth
as "three levels", "a few levels" and "5 folders", and the rehearsal's "profile local"
unexplained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _docs() -> dict[str, str]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {str(p.relative_to(ROOT)): p.read_text() for p in files}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            found.add(_anchor(line.lstrip("#")))
    return found


@pytest.mark.parametrize("stale", ["about 40 s", "about two seconds", "three levels",
                                   "a few levels"])
def test_the_issues_stale_statements_are_gone(stale):
    for name, text in _docs().items():
        assert stale not in _flat(text), f"{name} still says {stale!r}"


def test_the_demo_time_is_the_benchmarks(repo_root):
    readme = _flat((repo_root / "README.md").read_text())
    said = re.search(r"the notebook takes about (\d+) s on a quiet 2-core machine: ([\d.]+) s in "
                     r"`bench/RESULTS.md`, \"([^\"]+)\"", readme)
    assert said, "README states the demo notebook's time with its measurement"
    about, measured, section = int(said[1]), said[2], said[3]
    results = (repo_root / "bench" / "RESULTS.md").read_text()
    row = re.search(r"\| 300 iterations: wall direct / notebook \| [\d.]+ s / ([\d.]+) s \|",
                    _section(results, section))
    assert row and row[1] == measured, f"{section} measured {row and row[1]}, README {measured}"
    assert abs(about - float(measured)) <= 1
    assert len(re.findall(r"notebook takes about \d+ s", readme)) == 1


def test_the_doctor_time_is_the_benchmarks(repo_root):
    readme = _flat((repo_root / "README.md").read_text())
    said = re.search(r"in about ([\d.]+) s on a quiet 2-core machine \(`bench/RESULTS.md`, "
                     r"\"Preflight latency\"\)", readme)
    assert said, "README states doctor's time with its measurement"
    results = (repo_root / "bench" / "RESULTS.md").read_text()
    totals = re.findall(r"\| full run \(envcheck's (?:own timer|`total_s`)\) \| ([\d.]+) s",
                        results)
    assert totals, "bench/RESULTS.md has Preflight latency measurements"
    assert all(abs(float(t) - float(said[1])) <= 0.06 for t in totals), (totals, said[1])


def test_the_kaggle_runs_length_against_the_recipe_is_explained_once(repo_root):
    from mmengine.config import Config

    from mapsage.models import config_for_model

    recipe = Config.fromfile(str(config_for_model("b2"))).train_cfg.max_iters
    kaggle = yaml.safe_load((repo_root / "kaggle" / "train-segformer-loveda" / "params.yaml")
                            .read_text())["max_iters"]
    assert (recipe, kaggle) == (80000, 16000)
    why = _flat(_section((repo_root / "docs" / "recipes.md").read_text(),
                         "Where a run's numbers come from"))
    assert "80,000 iterations" in why and "`max_iters: 16000`" in why
    assert "a fifth of the iterations" in why and kaggle * 5 == recipe
    assert "Every other mention of 16,000 iterations refers here" in why
    link = "recipes.md#where-a-runs-numbers-come-from"
    assert _anchor("Where a run's numbers come from") in _anchors(repo_root / "docs/recipes.md")
    readme = (repo_root / "README.md").read_text()
    long_runs = (repo_root / "docs" / "long-runs.md").read_text()
    for line in readme.splitlines():
        if re.search(r"\b80k\b", line) and "16,000" in line:
            assert link in line, line
    assert f"16,000 iterations: [a fifth of the recipe's 80,000]({link})" in long_runs


def test_the_search_depth_is_stated_once_as_the_code_has_it(repo_root):
    from envcheck import walk

    doc = _flat((repo_root / "docs" / "data-check.md").read_text())
    depths = re.findall(r"down to \*\*(\d+) folders below `data_root`\*\*", doc)
    assert depths == [str(walk.MAX_DEPTH)]
    link = "data-check.md#where-the-data-set-is-searched"
    assert _anchor("Where the data set is searched") in _anchors(repo_root / "docs/data-check.md")
    for name, text in _docs().items():
        if name != "docs/data-check.md":
            flat = _flat(text)
            for depth in re.finditer(r"\b(\d+) (folders|levels) (deep|below|down)", flat):
                # the other bounded walk: the search for a file by name (the wheelhouse's
                # manifest.json, pretrained weights), one level deeper than LoveDA's folders
                assert int(depth[1]) == walk.FILE_DEPTH, (name, depth[0])
                before = flat[max(depth.start() - 100, 0):depth.start()]
                assert "LoveDA" not in before and ("manifest.json" in before
                                                   or "file name" in before), (name, before)
    for name in ("README.md", "docs/kaggle.md", "docs/troubleshooting.md"):
        assert link in (repo_root / name).read_text(), f"{name} points to the one statement"


def test_which_images_get_overlays_is_said_in_recipes_md_and_the_readme_points_there(repo_root):
    section = _flat(_section((repo_root / "docs" / "recipes.md").read_text(),
                             "Predictions for the LoveDA test server"))
    assert "Colour overlays" in section and "`--overlays`" in section
    assert "recipes.md#predictions-for-the-loveda-test-server" in (repo_root / "README.md") \
        .read_text()


def test_the_rehearsals_profile_local_is_explained_in_kaggle_md(repo_root):
    kaggle = _flat((repo_root / "docs" / "kaggle.md").read_text())
    assert "**envcheck in a rehearsal says `profile local`**" in kaggle
    assert _anchor("The Kaggle-image rehearsal") in _anchors(repo_root / "docs/kaggle.md")
    envcheck = _flat((repo_root / "docs" / "envcheck.md").read_text())
    assert "a laptop rehearsal of Kaggle reports `profile local`" in envcheck
    assert "kaggle.md#the-kaggle-image-rehearsal" in envcheck


def test_what_a_run_leaves_says_notebooks_are_never_replaced_and_the_lock_goes(repo_root):
    table = _flat(_section((repo_root / "README.md").read_text(), "What a run leaves"))
    assert ("a later `mapsage run` into the same work_dir (resumed, continued, refused or failed) "
            "writes `train_segformer_loveda.2.ipynb`") in table
    assert "never over an earlier run's notebook" in table
    assert "| `.mapsage.lock` | only while a run trains" in table
    assert "A run removes it when it ends" in table
    assert "`wall_time_s`: the whole run's, summed over its sessions" in table


def test_every_link_between_the_docs_leads_to_a_file_and_heading_there(repo_root):
    """The pointers that make each fact single must arrive: a renamed heading (data-check.md's
    'Where LoveDA is searched', now 'Where the data set is searched') broke five of them."""
    broken = []
    for name, text in _docs().items():
        here = (repo_root / name).parent
        for link in re.finditer(r"\]\(([^)\s#]*)(#[^)\s]+)?\)", text):
            target, fragment = link[1], link[2]
            if re.match(r"[a-z]+:", target):
                continue
            path = (here / target) if target else repo_root / name
            if not path.exists():
                broken.append(f"{name}: {target} does not exist")
            elif fragment and path.suffix == ".md" and fragment[1:] not in _anchors(path):
                broken.append(f"{name}: {target}{fragment} has no such heading")
    assert broken == []
