#!/usr/bin/env bash
# Start-up and first-analysis times of the bundle against the development install (issue 17, docs/bundle.md):
#
#   packaging/measure_start.sh [BUNDLE_DIR] [ROUNDS]      # defaults: dist/attune, 3
#
# Each round, for the bundle and then the development install (.venv/bin/attune), in a fresh data folder:
#   - window: the desktop app started on Xvfb; seconds until a window titled "Attune" is mapped, and the
#     CPU seconds (user + system, the whole process tree, from /proc) spent by then;
#   - analysis: `attune analyze --out DIR -q` of the smoke test's 84 s recording (or $MEASURE_WAV) in a new process (so the
#     models are loaded from disk each time: the first analysis after a start); wall, user and system seconds.
# The 1-minute load average is logged before every measure (the machine may be shared). Page caches are
# not dropped: these are warm-cache starts after the first round. Results: build/measure/results.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=$(cd "${1:-dist/attune}" && pwd) || exit 2
ROUNDS=${2:-3}
DEV=$ROOT/.venv/bin/attune
WAV=${MEASURE_WAV:-${SMOKE_REF_DIR:-$ROOT/build/smoke-ref}/demo-session.wav}
OUT=$ROOT/build/measure
mkdir -p "$OUT"
RES=$OUT/results.txt
: >"$RES"
[[ -f $WAV ]] || { echo "measure: no $WAV (run packaging/smoke_test.sh first)" >&2; exit 2; }
command -v Xvfb >/dev/null && command -v xwininfo >/dev/null || { echo "measure: needs Xvfb and xwininfo" >&2; exit 2; }

export ATTUNE_PASSPHRASE="measure passphrase" PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV
fresh() {  # a new, empty user for one run
  rm -rf "$OUT/user"; mkdir -p "$OUT/user/home" "$OUT/user/c" "$OUT/user/d" "$OUT/user/k"
  export ATTUNE_HOME=$OUT/user/home XDG_CONFIG_HOME=$OUT/user/c XDG_DATA_HOME=$OUT/user/d XDG_CACHE_HOME=$OUT/user/k
}
load() { cut -d' ' -f1 /proc/loadavg; }
tree_cpu() {  # CPU seconds (user+system) of PID and all its descendants, now
  python3 - "$1" <<'PY'
import os, sys
tck = os.sysconf("SC_CLK_TCK")
stat = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            stat[int(p)] = (int(f[1]), int(f[11]) + int(f[12]))  # ppid, utime + stime
        except (OSError, IndexError):
            pass
todo, total = [int(sys.argv[1])], 0
while todo:
    pid = todo.pop()
    total += stat.get(pid, (0, 0))[1]
    todo += [c for c, (pp, _) in stat.items() if pp == pid]
print(f"{total / tck:.1f}")
PY
}

DISP=:$((150 + RANDOM % 50))
Xvfb "$DISP" -screen 0 1600x1000x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null' EXIT
sleep 1

window() {  # window LABEL EXE
  fresh
  local l t0 app seen="" cpu="-"
  l=$(load)
  t0=$(date +%s.%N)
  DISPLAY=$DISP QT_QPA_PLATFORM=xcb "$2" >"$OUT/window-$1.log" 2>&1 &
  app=$!
  for _ in $(seq 1 1200); do
    if DISPLAY=$DISP xwininfo -root -tree 2>/dev/null | grep -q '"Attune"'; then
      seen=$(python3 -c "import time; print(f'{time.time() - $t0:.2f}')"); cpu=$(tree_cpu "$app"); break
    fi
    kill -0 "$app" 2>/dev/null || break
    sleep 0.05
  done
  kill "$app" 2>/dev/null; wait "$app" 2>/dev/null
  printf 'window    %-7s round %s  visible %6s s  cpu %5s s  load %s\n' "$1" "$r" "${seen:-FAILED}" "$cpu" "$l" | tee -a "$RES"
}
analysis() {  # analysis LABEL EXE
  fresh
  local l
  l=$(load)
  rm -rf "$OUT/an-$1"
  /usr/bin/time -f '%e %U %S' -o "$OUT/time-$1.txt" "$2" analyze --out "$OUT/an-$1" -q "$WAV" >"$OUT/analyze-$1.log" 2>&1 \
    || echo "measure: analyze ($1) failed, see $OUT/analyze-$1.log"
  read -r wall user sys <"$OUT/time-$1.txt"
  printf 'analysis  %-7s round %s  wall %6s s  cpu %5s s (user %s, sys %s)  load %s\n' "$1" "$r" "$wall" \
    "$(python3 -c "print(f'{$user + $sys:.1f}')")" "$user" "$sys" "$l" | tee -a "$RES"
}

for r in $(seq 1 "$ROUNDS"); do
  window bundle "$BUNDLE/attune"
  window dev "$DEV"
done
for r in $(seq 1 "$ROUNDS"); do
  analysis bundle "$BUNDLE/attune"
  analysis dev "$DEV"
done
echo "measure: results in $RES ($(nproc) cores)"
