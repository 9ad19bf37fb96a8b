#!/usr/bin/env bash
# Sets Attune up in a virtual environment at .venv/ in this checkout.
#   - Debian/Ubuntu packages it needs (PortAudio for capture, espeak-ng for generated dialogues, the
#     libraries Qt loads) are installed with apt-get when run as root or with password-less sudo;
#     otherwise the missing ones are named and the set-up stops.
#   - Python 3.11 or newer is required.
set -euo pipefail
cd "$(dirname "$0")"

# capture, generated dialogues, Qt's libraries (offscreen and on an X desktop), a virtual microphone
# and a virtual screen for the integration tests and screenshots; Pango and HarfBuzz for the PDF
# report, Chromium to test the HTML report (issue 15)
APT_PACKAGES=(libportaudio2 espeak-ng libsndfile1 libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0
              libfontconfig1 libdbus-1-3 libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
              pulseaudio pulseaudio-utils libasound2-plugins xvfb
              libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages first, then run ./setup.sh again:" >&2
    echo "    sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PY=""
for cand in python3.11 python3.12 python3.13 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY=$cand; break
  fi
done
if [[ -z $PY ]]; then
  echo "setup: Python 3.11 or newer is needed (none found on PATH)" >&2
  exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
echo "setup: installing Attune and its dependencies into .venv (first time: a few minutes, several GB)"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,dask]" 2>&1 \
  | grep -v -E "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import analysis, app, audio, faster_whisper, webrtcvad, soxr, soundfile, cryptography, sqlcipher3" \
  || { echo "setup: the installation is incomplete (see the pip output above)" >&2; exit 1; }
echo "setup: done. Run '.venv/bin/attune --help'."
