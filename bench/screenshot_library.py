"""Screenshots of the Library window and its Trends tab for docs/ (issue 16), on a throw-away encrypted
store seeded with twelve sessions of three clients over three months, whose timelines the cue engine
computed from scripted turns (a therapist who interrupts less from month to month). Run under Xvfb to
grab the screen as a user sees it; with no display it grabs the widget offscreen.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python bench/screenshot_library.py [--out docs]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSPHRASE = "screenshot only"


def _timeline(interrupting: int, n: int, seed: int):
    """Turns of varied length and gaps; about ``interrupting`` in 10 of the therapist's turns start over
    the client's."""
    import numpy as np

    from analysis.timeline import Turn
    from app.synth import scripted_timeline

    rng = np.random.default_rng(seed)
    turns, t = [], 0.0
    for i in range(n):
        sp = "S1" if i % 2 == 0 else "S2"
        length = float(rng.uniform(3, 9) if sp == "S1" else rng.uniform(5, 20))
        start = t - 2.0 if sp == "S1" and i and rng.random() < interrupting / 10 else t
        turns.append(Turn(sp, start, t + length))
        t += length + float(rng.uniform(0.4, 4.5))
    return scripted_timeline(turns, t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tempfile.mkdtemp(prefix="attune-shot-")
    os.environ["ATTUNE_HOME"] = home
    os.environ["ATTUNE_PASSPHRASE"] = PASSPHRASE
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.session_runner import headline_metrics
    from app.settings import load_settings
    from app.store import Store, vault_path
    from app.vault import Argon2Params, Vault
    from ui import theme as themes
    from ui.library_window import LibraryWindow

    _vault, master, _recovery = Vault.create(vault_path(), PASSPHRASE,
                                             argon2=Argon2Params(memory_kib=1024, iterations=1, lanes=1))
    store = Store.open(master, audit_unlock=False)
    plan = [("C-01", f"2026-{m:02d}-{d:02d}T10:00:00+00:00", k) for m, d, k in
            ((9, 2, 7), (9, 16, 6), (9, 30, 6), (10, 14, 5), (10, 28, 4), (11, 11, 3), (11, 25, 3))]
    plan += [("C-02", f"2026-{m:02d}-{d:02d}T15:00:00+00:00", k) for m, d, k in ((9, 9, 4), (10, 7, 4), (11, 4, 3))]
    plan += [("C-03", "2026-10-21T09:00:00+00:00", 2), ("C-03", "2026-11-18T09:00:00+00:00", 2)]
    for n, (client, when, k) in enumerate(plan):
        tl = _timeline(k, 240, n)
        tags = ["supervision"] if n % 4 == 1 else ["intake"] if n in (0, 7, 10) else []
        s = store.create_session({"client": client, "started_at": when, "duration": tl.duration, "tags": tags,
                                  "status": "finished", "metrics": headline_metrics(tl)})
        s.write_json("timeline", tl.to_dict())
    app = QApplication.instance() or QApplication(["attune"])
    t = themes.theme(getattr(load_settings(), "theme", "dark"))
    themes.apply(app, t)
    win = LibraryWindow(store, t, open_session=lambda _sid: None)
    win.resize(1360, 640)
    win.show()
    QTest.qWait(300)
    win.sort_by("Date", descending=True)
    QTest.qWait(200)
    out = Path(args.out)

    def grab(name: str) -> None:
        screen = win.screen()
        pix = (screen.grabWindow(0, win.x(), win.y(), win.frameGeometry().width(), win.frameGeometry().height())
               if os.environ.get("DISPLAY") else win.grab())
        pix.save(str(out / name))
        print(f"wrote {out / name}")

    grab("screenshot-library.png")
    win.set_filters(client="C-01")
    win.set_trend("interruptions_per_hour")
    win.tabs.setCurrentIndex(1)
    QTest.qWait(300)
    grab("screenshot-trends.png")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
