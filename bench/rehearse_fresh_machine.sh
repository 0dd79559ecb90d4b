#!/usr/bin/env bash
# Rehearse the README's quick start on a "fresh Linux machine without a GPU" on one of the
# project's own machines (issue 19), as root: a private mount namespace hides the CUDA toolkit
# and /usr/local/bin, HOME is empty (no pip, uv or MapSage caches), pip reads no configuration
# (no local wheel folder, extra index or constraints), then a clean clone runs the commands.
#
#   sudo bench/rehearse_fresh_machine.sh [COMMIT] [TARGETS...]   (default: HEAD, "demo test")
#
# Prints each target's wall time; the log of each is in the printed work folder.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
commit=${1:-HEAD}; shift || true
targets=${*:-demo test}
python=${REHEARSAL_PYTHON:-$(ls -d /root/.pyenv/versions/3.11.*/bin 2>/dev/null | tail -1)}
work=$(mktemp -d /tmp/mapsage-fresh-XXXXXX)
git -C "$repo" rev-parse --verify "$commit" >/dev/null
echo "fresh-machine rehearsal of $(git -C "$repo" rev-parse --short "$commit") in $work"

exec unshare -m bash -s "$repo" "$commit" "$work" "$python" "$targets" <<'INNER'
set -euo pipefail
repo=$1 commit=$2 work=$3 python=$4 targets=$5
mount --make-rprivate /
mkdir -p "$work/empty"
cuda=$(readlink -f /usr/local/cuda 2>/dev/null || true)
for hidden in "$cuda" /usr/local/cuda /usr/local/bin; do
  [ -n "$hidden" ] && [ -d "$hidden" ] && mount --bind "$work/empty" "$hidden"
done
export HOME="$work/home" PIP_CONFIG_FILE=/dev/null
mkdir -p "$HOME"
unset PIP_FIND_LINKS PIP_CONSTRAINT PIP_EXTRA_INDEX_URL PIP_INDEX_URL UV_INDEX_URL \
      UV_EXTRA_INDEX_URL UV_FIND_LINKS CUDA_HOME CUDA_PATH MAPSAGE_WHEELHOUSE
export PATH="$python:/usr/sbin:/usr/bin:/sbin:/bin"
command -v nvcc && { echo "nvcc is still visible"; exit 1; }
git clone --quiet "$repo" "$work/clone"
cd "$work/clone"
git checkout --quiet "$commit"
for target in $targets; do
  start=$(date +%s)
  if make "$target" > "$work/$target.log" 2>&1; then status=ok; else status="FAILED ($?)"; fi
  echo "make $target: $status in $(( $(date +%s) - start )) s (log: $work/$target.log)"
  tail -n 3 "$work/$target.log"
done
du -sh "$HOME/.cache" 2>/dev/null || true
INNER
