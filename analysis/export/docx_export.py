"""DOCX transcript (``python-docx``) for people who correct in Word: the session's facts, then a table
of time, speaker and text, then the notes and bookmarks."""

from __future__ import annotations

from pathlib import Path

from analysis.export.common import clock, out_files, prepare, spoken_lines
from analysis.timeline import Timeline


def write_docx(tl: Timeline, out_path: str | Path, *, deidentify: bool = False, notes=None,
               words: bool = True, title: str | None = None, **_: object) -> list[Path]:
    from docx import Document
    from docx.shared import Pt

    p = prepare(tl, notes, deidentify=deidentify, words=words)
    t = p.timeline
    doc = Document()
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(10.5)
    doc.core_properties.author = "Attune"
    doc.core_properties.title = "Session transcript"
    doc.add_heading(title if title and not deidentify else "Session transcript", level=1)
    people = ", ".join(f"{p.name(s.id)}" + (f" ({s.role})" if s.role and not deidentify else "")
                       for s in t.speakers)
    facts = doc.add_paragraph()
    facts.add_run("Length ").bold = True
    facts.add_run(clock(t.duration))
    facts.add_run("    Speakers ").bold = True
    facts.add_run(people or "none")
    if deidentify:
        doc.add_paragraph("De-identified: speakers by role; names, places, dates and numbers replaced "
                          "by [NAME], [DATE], [NUMBER].").italic = True
    lines = spoken_lines(p)
    # all rows at once: add_row() one by one costs four times as much (a 90-minute session: 1.9 s); each
    # new cell holds one empty paragraph: a run added to it is the XML that ``cell.text = ...`` makes
    # (which first removes that paragraph and adds another), in about 2/3 of the time
    table = doc.add_table(rows=len(lines) + 1, cols=3)
    table.style = "Light Grid Accent 1"
    rows = iter(table.rows)
    for cell, text in zip(next(rows).cells, ("Time", "Speaker", "Text" if t.utterances else "Turn"), strict=True):
        cell.paragraphs[0].add_run(text)
    for (sp, s, e, text), row in zip(lines, rows, strict=True):
        cells = row.cells
        cells[0].paragraphs[0].add_run(f"{clock(s, ms=True)} – {clock(e, ms=True)}")
        cells[1].paragraphs[0].add_run(p.name(sp))
        cells[2].paragraphs[0].add_run(text if t.utterances else "")
    if p.notes:
        doc.add_heading("Notes and bookmarks", level=2)
        bullet = doc.styles["List Bullet"]  # found by name once, not once per note
        for b in p.notes:
            para = doc.add_paragraph(style=bullet)
            para.add_run(clock(b.t) + "  ").bold = True
            para.add_run(b.text or b.kind)
    path = out_files(out_path, ".docx")
    doc.save(str(path))
    return [path]
