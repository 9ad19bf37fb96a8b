#!/usr/bin/env bash
# Smoke test of the frozen bundle (issue 17, docs/bundle.md):
#
#   packaging/smoke_test.sh [BUNDLE_DIR]          # default dist/attune
#
# Runs the bundle with no network (in a network namespace without interfaces, `unshare -n`, where that
# works; otherwise it says so and runs with the network), in a throw-away data folder:
#   0. every shared library a file of the bundle needs is inside it (or is one the system always provides);
#   1. `attune --version` (must name the installed version, i.e. the metadata is inside);
#   2. `attune analyze --out` on a generated recording, the timeline compared with the development
#      install's (.venv) on the same file: speaker of every 10 ms of speech, and the transcript words;
#   3. `attune export` of that timeline in every format but WAV (JSON, CSV, subtitles, RTTM, Praat, ELAN,
#      Audacity, Word, the HTML and PDF report: matplotlib, python-docx, weasyprint with its Pango);
#   4. `attune live --file REC --duration 10` into an encrypted store, then `attune review` of that session
#      offscreen for 15 s (the review window with QtMultimedia's FFmpeg player on the session's audio);
#   5. the main window: on Xvfb when it is installed (time until a window titled "Attune" is mapped, then
#      a few seconds more), else with QT_QPA_PLATFORM=offscreen for a few seconds; it must still be running;
#   6. every log is searched for import errors, missing shared libraries and tracebacks.
# The reference recording and its development-install analysis are made once with
# `.venv/bin/attune demo` (espeak-ng voices) in build/smoke-ref/ and reused; set SMOKE_REF_DIR to use
# another folder holding demo-session.wav and demo-session.timeline.json.
# Exit status 0 only if every step passed. Timings go to $OUT/timings.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=$(cd "${1:-dist/attune}" 2>/dev/null && pwd) || { echo "smoke: no bundle at ${1:-dist/attune} (run packaging/build.sh)" >&2; exit 2; }
EXE=$BUNDLE/attune
[[ -x $EXE ]] || { echo "smoke: $EXE is missing" >&2; exit 2; }
DEV=$ROOT/.venv/bin/attune
REF=${SMOKE_REF_DIR:-$ROOT/build/smoke-ref}
OUT=${SMOKE_OUT:-$ROOT/build/smoke}
rm -rf "$OUT"; mkdir -p "$OUT/home" "$OUT/xdg-config" "$OUT/xdg-data" "$OUT/xdg-cache"
FAILED=()
pass() { echo "smoke: PASS $*"; }
fail() { echo "smoke: FAIL $*"; FAILED+=("$*"); }

# a clean user: nothing read from or written to the real home
export ATTUNE_HOME=$OUT/home ATTUNE_PASSPHRASE="smoke test passphrase" \
       XDG_CONFIG_HOME=$OUT/xdg-config XDG_DATA_HOME=$OUT/xdg-data XDG_CACHE_HOME=$OUT/xdg-cache \
       PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV

if unshare -n true 2>/dev/null; then
  NONET=(unshare -n)
  echo "smoke: running the bundle in a network namespace with no interfaces (unshare -n)"
else
  NONET=()
  echo "smoke: NOTE: unshare -n is not available here; the bundle runs WITH the network"
fi
run() {  # run LOG CMD... : the bundle without network, output to $OUT/LOG.log
  local log=$OUT/$1.log; shift
  "${NONET[@]}" "$@" >"$log" 2>&1
}
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

# -- reference recording and the development install's analysis ----------------------------------------
WAV=$REF/demo-session.wav
if [[ ! -f $REF/demo-session.timeline.json ]]; then
  [[ -x $DEV ]] || { echo "smoke: no reference in $REF and no development install to make one" >&2; exit 2; }
  mkdir -p "$REF"
  echo "smoke: making the reference: $DEV demo --out $REF"
  (cd "$REF" && "$DEV" demo --out . -q >demo.log 2>&1) || { echo "smoke: the reference demo failed" >&2; exit 2; }
fi

# -- 0. shared libraries: every DT_NEEDED of every ELF file in the bundle is inside it, or a system library
#       that PyInstaller leaves to the system on purpose (glibc, GL/EGL, Wayland, libxcb, libdrm) ------------
if python3 - "$BUNDLE" >"$OUT/needed.log" 2>&1 <<'PY'
import os, re, subprocess, sys
SYSTEM = ("libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so", "libutil.so", "libresolv.so",
          "ld-linux", "libGL.so", "libEGL.so", "libOpenGL.so", "libGLX.so", "libwayland-", "libxcb.so.1",
          "libdrm.so", "libX11.so", "libxkbcommon")
names, elfs = set(), []
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        p = os.path.join(d, f)
        names.add(f)
        if not os.path.islink(p):
            with open(p, "rb") as h:
                if h.read(4) == b"\x7fELF":
                    elfs.append(p)
bad = 0
for p in elfs:
    dyn = subprocess.run(["readelf", "-d", p], capture_output=True, text=True).stdout
    for n in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn):
        if n not in names and not n.startswith(SYSTEM):
            print(f"{os.path.relpath(p, sys.argv[1])} needs {n}, which is not in the bundle")
            bad += 1
print(f"{len(elfs)} ELF files, {bad} missing libraries")
sys.exit(1 if bad else 0)
PY
then pass "shared libraries: $(tail -1 "$OUT/needed.log")"
else fail "shared libraries: $(tail -1 "$OUT/needed.log") (see $OUT/needed.log)"; fi

# -- 1. version -------------------------------------------------------------------------------------------
want=$("$ROOT/.venv/bin/python" -c 'from importlib.metadata import version; print(version("attune"))' 2>/dev/null || echo "")
if run version "$EXE" --version && grep -q "^attune ${want:-[0-9]}" "$OUT/version.log" \
   && ! grep -q unknown "$OUT/version.log"; then
  pass "--version: $(cat "$OUT/version.log")"
else
  fail "--version: $(cat "$OUT/version.log")"
fi

# -- 2. analyze, compared with the development install ------------------------------------------------------
t0=$(now)
if run analyze "$EXE" analyze --out "$OUT/analyze" -q "$WAV"; then
  t1=$(now); echo "analyze (bundle, first run) $(secs "$t0" "$t1") s" >>"$OUT/timings.txt"
  if python3 "$ROOT/packaging/compare_timelines.py" "$REF/demo-session.timeline.json" \
       "$OUT/analyze/demo-session.timeline.json" >"$OUT/compare.log" 2>&1; then
    pass "analyze: $(tail -1 "$OUT/compare.log")"
  else
    fail "analyze: the timeline differs from the development install's: $(tail -3 "$OUT/compare.log")"
  fi
else
  fail "analyze exited non-zero (see $OUT/analyze.log)"
fi

# -- 3. export in every format but WAV (the analysis above kept no audio) -----------------------------------
TL=$OUT/analyze/demo-session.timeline.json
if [[ -f $TL ]] && run export "$EXE" export "$TL" --out "$OUT/export" \
     --format json,csv,srt,vtt,rttm,textgrid,eaf,audacity,docx,html,pdf; then
  n=$(find "$OUT/export" -type f -size +0 | wc -l)
  if [[ $(head -c 5 "$OUT/export/demo-session.report.pdf" 2>/dev/null) == "%PDF-" ]] \
     && unzip -tq "$OUT/export/demo-session.docx" >/dev/null 2>&1 \
     && grep -q "data:image/svg+xml;base64" "$OUT/export/demo-session.report.html"; then
    pass "export: $n files, the PDF, DOCX and HTML report (with its charts) are well-formed"
  else
    fail "export: the PDF, DOCX or HTML report is missing or malformed (see $OUT/export.log)"
  fi
else
  fail "export exited non-zero (see $OUT/export.log)"
fi

# -- 4. live from a file, into the encrypted store, then its review ----------------------------------------------
t0=$(now)
if run live "$EXE" live --file "$WAV" --duration 10 -q; then
  echo "live --duration 10 (bundle) $(secs "$t0" "$(now)") s" >>"$OUT/timings.txt"
  pass "live --file --duration 10"
else
  fail "live exited non-zero (see $OUT/live.log)"
fi
sid=$("${NONET[@]}" "$EXE" sessions list 2>/dev/null | awk 'NF && $1 ~ /^[0-9a-f]+$/ {print $1; exit}')
if [[ -z $sid ]]; then
  fail "review: the live session is not in the store (attune sessions list)"
else
  QT_QPA_PLATFORM=offscreen timeout 15 "${NONET[@]}" "$EXE" review "$sid" >"$OUT/review.log" 2>&1
  rc=$?
  if [[ $rc == 124 ]] && grep -q "qt.multimedia.ffmpeg: Using Qt multimedia with FFmpeg" "$OUT/review.log"; then
    pass "review of the live session: open for 15 s, QtMultimedia's FFmpeg backend loaded"
  else
    fail "review (exit $rc; 124 = still open when stopped; see $OUT/review.log)"
  fi
fi

# -- 5. the main window -----------------------------------------------------------------------------------------
window_test() {  # window_test LABEL CMD... : prints seconds until the window is mapped, or fails
  local label=$1; shift
  local log=$OUT/window-$label.log
  if command -v Xvfb >/dev/null && command -v xwininfo >/dev/null; then
    local disp=:$((90 + RANDOM % 50))
    Xvfb "$disp" -screen 0 1600x1000x24 -nolisten tcp >"$OUT/xvfb-$label.log" 2>&1 &
    local xvfb=$!
    sleep 1
    local t0 seen=""
    t0=$(now)
    DISPLAY=$disp QT_QPA_PLATFORM=xcb "$@" >"$log" 2>&1 &
    local app=$!
    for _ in $(seq 1 1200); do  # up to 120 s
      if DISPLAY=$disp xwininfo -root -tree 2>/dev/null | grep -q '"Attune"'; then seen=$(secs "$t0" "$(now)"); break; fi
      kill -0 "$app" 2>/dev/null || break
      sleep 0.1
    done
    sleep 5
    local alive=0; kill -0 "$app" 2>/dev/null && alive=1
    kill "$app" 2>/dev/null; wait "$app" 2>/dev/null
    kill "$xvfb" 2>/dev/null; wait "$xvfb" 2>/dev/null
    if [[ -n $seen && $alive == 1 ]]; then
      echo "window visible ($label, Xvfb) $seen s" >>"$OUT/timings.txt"
      return 0
    fi
    echo "no window titled Attune (alive=$alive)" >>"$log"
    return 1
  fi
  QT_QPA_PLATFORM=offscreen timeout 15 "$@" >"$log" 2>&1
  [[ $? == 124 ]]  # still running when stopped: the window stayed open
}
# the bundle without network: Xvfb's socket is a file, so it is reachable from the namespace
if window_test bundle "${NONET[@]}" "$EXE"; then pass "main window opened and stayed open"
else fail "main window (see $OUT/window-bundle.log)"; fi
if [[ -x $DEV ]]; then  # the same measure for the development install, for docs/bundle.md
  window_test dev "$DEV" || echo "smoke: (the development install's window did not open: $OUT/window-dev.log)"
fi

# -- 6. logs ---------------------------------------------------------------------------------------------------
bad=$(grep -l -E "Traceback|ImportError|ModuleNotFoundError|No module named|cannot open shared object|Could not load the Qt platform plugin|undefined symbol|is unavailable" \
      "$OUT"/version.log "$OUT"/analyze.log "$OUT"/export.log "$OUT"/live.log "$OUT"/review.log \
      "$OUT"/window-bundle.log 2>/dev/null)
if [[ -n $bad ]]; then
  fail "import errors or tracebacks in: $bad"
  grep -h -E "Traceback|ImportError|ModuleNotFoundError|No module named|cannot open shared object|undefined symbol|is unavailable" $bad | head -20
else
  pass "no import error or traceback in the logs"
fi

echo "smoke: timings:"; sed 's/^/  /' "$OUT/timings.txt" 2>/dev/null
if ((${#FAILED[@]})); then
  echo "smoke: ${#FAILED[@]} step(s) failed"; exit 1
fi
echo "smoke: all steps passed"
