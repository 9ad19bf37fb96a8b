"""Screenshots of the supervision report for docs/export.md: the HTML in headless Chromium (Debian's) and
the PDF's first page (pdftoppm, Debian's poppler-utils).

The session is the demo counselling dialogue (``app.synth.demo_script(0)``, rendered with espeak-ng),
its truth turns and words through the cue engine, with the names, a note and a bookmark a clinician
would add in review. Writes docs/screenshot-report-html.png and docs/screenshot-report-pdf.png.

    .venv/bin/python bench/screenshot_export.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def demo_session(folder: Path):
    from analysis.cues import compute_cues
    from analysis.export import Bookmark
    from analysis.timeline import Speaker, Timeline
    from app.synth import demo_script, render

    wav = folder / "audio.wav"
    truth = render(demo_script(0), wav)
    ids = [s["id"] for s in truth.speakers]
    metrics, events = compute_cues(truth.turns, truth.utterances, truth.duration, speakers=ids)
    names = {"therapist": "Dr Lee", "client": "Client"}
    tl = Timeline(duration=truth.duration,
                  speakers=tuple(Speaker(s["id"], names.get(s["role"], s["id"]), s["role"]) for s in truth.speakers),
                  turns=tuple(truth.turns), utterances=tuple(truth.utterances), events=events, metrics=metrics,
                  source={"file": "audio.wav"}, provenance={"app": "attune", "version": "0.1.0"})
    notes = [Bookmark(21.0), Bookmark(48.5, "Client names the week's hardest moment: come back to it", "note")]
    return tl, notes


def main() -> int:
    from playwright.sync_api import sync_playwright

    from analysis.export import export

    docs = ROOT / "docs"
    with tempfile.TemporaryDirectory(prefix="attune-shot-") as tmp:
        tl, notes = demo_session(Path(tmp))
        res = export(tl, Path(tmp) / "demo", ["html", "pdf"], notes=notes, title="demo session")
        html, pdf = res["html"][0], res["pdf"][0]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.screenshot(path=str(docs / "screenshot-report-html.png"))
            browser.close()
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(docs / "screenshot-report-pdf")], check=True)
    print("wrote docs/screenshot-report-html.png, docs/screenshot-report-pdf.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
