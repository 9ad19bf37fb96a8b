#!/usr/bin/env bash
# Builds the one-folder desktop bundle dist/attune/ (issue 17, docs/bundle.md).
#
#   packaging/build.sh            # build venv + bundle
#   ATTUNE_BUILD_VENV=/some/dir packaging/build.sh
#   ATTUNE_BUILD_REF=HEAD packaging/build.sh   # bundle a commit (git archive into build/src), not the
#                                              # working tree with whatever is uncommitted in it
#
# It prepares its own build environment and never touches the development venv (.venv/):
#   1. a venv at build/venv (or $ATTUNE_BUILD_VENV),
#   2. a CPU-only torch first ($ATTUNE_TORCH, default torch==2.13.0+cpu), pinned by a constraints file
#      for every later step, so that nothing pulls in PyPI's CUDA build of torch or the nvidia-* wheels,
#   3. the project itself (not editable) with its dependencies, as pip's resolver picks them beside
#      that torch (torchaudio, torchcodec, pyannote.audio 4.0.7, ...),
#   4. PyInstaller,
#   5. `pyinstaller build.spec` -> dist/attune/,
#   6. the archive dist/attune-linux-x86_64.tar.gz; the bundle's and the archive's sizes in bytes.
# Each step's wall time and the venv's size after it go to build/build-times.txt.
# Re-running reuses the venv (the pip steps are then quick no-ops).
# Heavy steps run under `nice -n 19` (shared build machines); set ATTUNE_NICE= to run at normal priority.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${ATTUNE_BUILD_VENV:-$ROOT/build/venv}
TORCH=${ATTUNE_TORCH:-torch==2.13.0+cpu}
NICE=${ATTUNE_NICE-nice -n 19}
mkdir -p build
SRC=$ROOT
if [[ -n ${ATTUNE_BUILD_REF:-} ]]; then  # a clean copy of that commit; the spec's paths follow it
  SRC=$ROOT/build/src
  rm -rf "$SRC"; mkdir -p "$SRC"
  git -C "$ROOT" archive "$ATTUNE_BUILD_REF" | tar -x -C "$SRC"
  echo "build: sources of $(git -C "$ROOT" rev-parse --short "$ATTUNE_BUILD_REF") in $SRC"
fi
TIMES=$ROOT/build/build-times.txt
CONSTRAINTS=$ROOT/build/bundle-constraints.txt
echo "$TORCH" >"$CONSTRAINTS"
: >"$TIMES"

step() {  # step NAME COMMAND... : runs it, logs wall seconds and the venv's size afterwards
  local name=$1; shift
  local t0=$SECONDS
  echo "build: == $name"
  "$@"
  local dt=$((SECONDS - t0)) size="-"
  [[ -d $VENV ]] && size=$(du -sm "$VENV" | cut -f1)
  printf '%-12s %6d s   venv %6s MB\n' "$name" "$dt" "$size" | tee -a "$TIMES"
}

PY=""
for cand in python3.11 python3.12 python3.13 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY=$cand; break
  fi
done
[[ -n $PY ]] || { echo "build: Python 3.11 or newer is needed" >&2; exit 1; }

PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --constraint "$CONSTRAINTS")

if [[ ! -x $VENV/bin/python ]]; then
  step venv "$PY" -m venv "$VENV"
fi
step torch $NICE "${PIP[@]}" "$TORCH"
# `.` rather than `-e .`: the bundle is built from what a user would install
step project $NICE "${PIP[@]}" "$SRC"
step pyinstaller $NICE "${PIP[@]}" "pyinstaller>=6.10"

# PyPI's torchaudio for Linux is built against the CUDA torch: its compiled extension needs
# libc10_cuda.so and cannot load beside a CPU torch. Attune uses only torchaudio.compliance.kaldi (pure
# Python on torch ops) and pyannote's resampling (torchaudio.functional, pure Python too), and torchaudio
# imports without the extension when its files are absent: remove them from the build venv (only there).
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [[ $TORCH == *+cpu* ]]; then
  rm -f "$SITE"/torchaudio/lib/*.so
fi
"$VENV/bin/python" - <<'PY'
import warnings
warnings.simplefilter("ignore")
import torch, torchaudio.compliance.kaldi, pyannote.audio, faster_whisper, PySide6.QtWidgets  # noqa
print(f"build: torch {torch.__version__} (CUDA {torch.version.cuda}), torchaudio {torchaudio.__version__}")
PY

# nothing CUDA may have slipped in through another package's requirements
if "$VENV/bin/python" -m pip list 2>/dev/null | grep -i -E '^nvidia-|^triton '; then
  echo "build: CUDA packages were installed into the build venv (see above); the bundle would be GBs larger" >&2
  exit 1
fi
"$VENV/bin/python" -m pip freeze >"$ROOT/build/bundle-freeze.txt"

step bundle $NICE "$VENV/bin/pyinstaller" --noconfirm --clean --distpath "$ROOT/dist" \
  --workpath "$ROOT/build/pyinstaller" "$SRC/build.spec"

step archive $NICE tar -C dist -czf dist/attune-linux-x86_64.tar.gz attune
bytes=$(du -sb dist/attune | cut -f1) tgz=$(stat -c %s dist/attune-linux-x86_64.tar.gz)
printf 'bundle       %d bytes (%d MB, %d MiB); tar.gz %d bytes (%d MB)\n' "$bytes" $((bytes / 1000000)) \
  $((bytes / 1048576)) "$tgz" $((tgz / 1000000)) | tee -a "$TIMES"
echo "build: done: dist/attune/attune  (smoke test: packaging/smoke_test.sh)"
