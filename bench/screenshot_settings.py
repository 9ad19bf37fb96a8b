"""Screenshots of the Settings window for docs/ (issue 16): its Goals tab with three goals and the line the
live dashboard will show, and its Privacy tab with a 90-day retention. A throw-away data folder; nothing
is saved (the window is cancelled). Run under Xvfb to grab the screen as a user sees it; with no display
it grabs the widget offscreen.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python bench/screenshot_settings.py [--out docs]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--theme", default="dark")
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["ATTUNE_HOME"] = tempfile.mkdtemp(prefix="attune-shot-")
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.settings import Settings
    from ui import theme as themes
    from ui.settings_dialog import GOALS_TAB, PRIVACY_TAB, SettingsDialog

    app = QApplication.instance() or QApplication(["attune"])
    themes.apply(app, themes.theme(args.theme))
    settings = Settings(goals=("client_talk_share>=60", "response_latency_median>=2"), retention_days=90)
    dialog = SettingsDialog(settings)
    dialog.add_goal().set_goal("interruptions_per_hour", False, "2")
    dialog.show()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def grab(name: str) -> None:
        QTest.qWait(300)
        if os.environ.get("DISPLAY"):
            g = dialog.frameGeometry()
            pix = dialog.screen().grabWindow(0, g.x(), g.y(), g.width(), g.height())
        else:
            pix = dialog.grab()
        pix.save(str(out / name))
        print(f"wrote {out / name}")

    dialog.tabs.setCurrentIndex(GOALS_TAB)
    grab("screenshot-settings-goals.png")
    dialog.tabs.setCurrentIndex(PRIVACY_TAB)
    grab("screenshot-settings-privacy.png")
    dialog.reject()  # Cancel: nothing is written
    return 0


if __name__ == "__main__":
    sys.exit(main())
