"""A CUDA_HOME made of PyPI's CUDA 13 wheels, for compiling CUDA ops on a machine without a GPU
or a system CUDA toolkit (the off-GPU build rehearsal, ``nox -s cuda_rehearsal``).

The CUDA 13 wheels (``nvidia-cuda-nvcc``, ``nvidia-nvvm``, ``nvidia-cuda-runtime``,
``nvidia-cuda-cccl``, ``nvidia-cuda-crt`` and the cuBLAS/cuSPARSE/cuSOLVER/cuFFT/cuRAND ones that
ATen's headers include) all unpack into one folder, ``site-packages/nvidia/cu13``, laid out like a
toolkit (``bin/nvcc``, ``nvvm/bin/cicc``, ``include/``, ``lib/``). Two things torch's
``cpp_extension`` expects of a CUDA_HOME are missing: ``lib64`` (it links ``-L$CUDA_HOME/lib64``)
and the unversioned ``libcudart.so`` (``-lcudart``). :func:`lay_out` adds both as symlinks.
(The CUDA 12 wheels are no use here: ``nvidia-cuda-nvcc-cu12`` ships only ``ptxas``.)
Standard library only.
"""

from __future__ import annotations

from pathlib import Path

from mapsage.errors import MapSageError

CUDA_MAJOR = "13"
REQUIRED = ("bin/nvcc", "nvvm/bin/cicc", "include/cuda_runtime.h", "include/cublas_v2.h",
            "include/cusparse.h", "include/cusolverDn.h", "include/cufft.h", "include/curand.h",
            f"lib/libcudart.so.{CUDA_MAJOR}")


def wheel_cuda_home(site_packages: Path) -> Path:
    return Path(site_packages) / "nvidia" / f"cu{CUDA_MAJOR}"


def lay_out(site_packages: Path) -> Path:
    """The CUDA_HOME inside ``site_packages``, completed with the two symlinks; refuses when a
    piece of the toolkit is missing (naming the file and so the wheel to install)."""
    home = wheel_cuda_home(site_packages)
    missing = [name for name in REQUIRED if not (home / name).exists()]
    if missing:
        raise MapSageError(
            f"{home} is not a complete CUDA {CUDA_MAJOR} toolkit: missing {', '.join(missing)}. "
            "Install the CUDA 13.0 wheels: pip install 'cuda-toolkit[nvcc,cccl,crt,nvvm,cudart,"
            "cublas,cusparse,cusolver,cufft,curand]==13.0.3'"
        )
    links = {home / "lib64": Path("lib"),
             home / "lib" / "libcudart.so": Path(f"libcudart.so.{CUDA_MAJOR}")}
    for link, target in links.items():
        if link.is_symlink() and Path(link.readlink()) == target:
            continue
        if link.exists() or link.is_symlink():
            raise MapSageError(f"{link} exists and is not a symlink to {target}: remove it")
        link.symlink_to(target)
    return home
