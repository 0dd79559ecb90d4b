"""The CUDA_HOME made of PyPI's CUDA 13 wheels: completed with the two symlinks torch's
cpp_extension needs, refused with the missing file named. The folder tree stands in for the
unpacked wheels (the cuda_rehearsal nox session runs it on the real ones)."""

from __future__ import annotations

import pytest

from mapsage.errors import MapSageError
from mapsage.provision import pip_cuda


def _toolkit(site):
    home = pip_cuda.wheel_cuda_home(site)
    for name in pip_cuda.REQUIRED:
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text("")
    return home


def test_lay_out_adds_lib64_and_the_unversioned_cudart(tmp_path):
    home = _toolkit(tmp_path)
    assert pip_cuda.lay_out(tmp_path) == home
    assert (home / "lib64").resolve() == (home / "lib").resolve()
    assert (home / "lib" / "libcudart.so").resolve() == (home / "lib" / "libcudart.so.13").resolve()
    assert pip_cuda.lay_out(tmp_path) == home, "a second call leaves the links as they are"


def test_missing_compiler_names_the_file_and_the_wheels(tmp_path):
    home = _toolkit(tmp_path)
    (home / "nvvm" / "bin" / "cicc").unlink()
    with pytest.raises(MapSageError, match=r"missing nvvm/bin/cicc.*cuda-toolkit\["):
        pip_cuda.lay_out(tmp_path)


def test_a_real_lib64_folder_is_not_replaced(tmp_path):
    home = _toolkit(tmp_path)
    (home / "lib64").mkdir()
    with pytest.raises(MapSageError, match="is not a symlink"):
        pip_cuda.lay_out(tmp_path)
