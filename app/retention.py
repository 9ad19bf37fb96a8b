"""Consent and retention (issue 13 point 3).

**Consent** is stored with each session in its encrypted description: what the client agreed to
(``meta["consent"]``: ``analysis``, ``transcript``, ``audio`` kept) and, beside it, when and by whom it
was recorded (``meta["consent_recorded"]``: ``date``, the session's start; ``by``, the clinician's
account on this computer). :func:`consent_line` is the one
line the review window and the exported report show.

**Retention**: ``Settings.retention_days`` (0 = keep everything). A session that started more than that
many days ago keeps only de-identified figures: its recording is deleted, and the words are taken out of
its timelines (the transcript) and its event log; speakers, turns, cues and the headline metrics stay.
:func:`apply_retention` does it, writes one ``retention`` line per session to the audit log and notes it
in the description. It runs when the app starts (after unlocking) and with ``attune sessions purge``.

A deleted file's blocks may survive on an SSD (wear levelling) until they are overwritten; they are
ciphertext under the session's key, which is destroyed only when the whole session is deleted. Full-disk
encryption is what covers the rest (README, Privacy).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

TRANSCRIPT_ROLES = ("timeline", "timeline_offline")  # encrypted documents that may hold words


def consent_record(started_at: str | None, by: str | None) -> dict[str, Any]:
    """When the consent was given and who recorded it: ``meta["consent_recorded"]``, beside the answers
    in ``meta["consent"]``."""
    return {"date": started_at, "by": by}


def _yes_no(v: Any) -> str:
    return "yes" if v is True else "no" if v is False else "not recorded"


def consent_line(meta: dict[str, Any] | None) -> str:
    """``Consent: analysis yes, transcript yes, audio kept no; recorded 2026-12-01 by alice`` (plus the
    retention applied, if any)."""
    meta = meta or {}
    c = meta.get("consent") if isinstance(meta.get("consent"), dict) else {}
    if not c:
        return "Consent: not recorded"
    text = (f"Consent: analysis {_yes_no(c.get('analysis'))}, transcript {_yes_no(c.get('transcript'))}, "
            f"audio kept {_yes_no(c.get('audio'))}")
    given = meta.get("consent_recorded") if isinstance(meta.get("consent_recorded"), dict) else {}
    when = str(given.get("date") or "")[:10]
    by = given.get("by")
    if when or by:
        text += "; recorded" + (f" {when}" if when else "") + (f" by {by}" if by else "")
    r = meta.get("retention")
    if isinstance(r, dict) and r.get("applied_at"):
        text += f"; audio and transcript deleted {str(r['applied_at'])[:10]} (retention {r.get('days')} days)"
    return text


@dataclass
class RetentionResult:
    purged: list[str] = field(default_factory=list)  # session ids reduced to de-identified figures
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, why)


def _started(s) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(s.started_at))
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _strip_words(doc: Any) -> Any:
    """A timeline dict without its words (utterances dropped, noted in the provenance)."""
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    if out.get("utterances"):
        out["utterances"] = []
    prov = dict(out.get("provenance") or {})
    prov["transcript"] = "deleted (retention)"
    out["provenance"] = prov
    return out


def _strip_events(session) -> bool:
    """Rewrite the event log without utterance text (a new encrypted stream); True if it changed."""
    if not session.has("events", stream=True):
        return False
    events = session.read_events()
    if not any(isinstance(e, dict) and e.get("type") == "utterance" and ("text" in e or "words" in e)
               for e in events):
        return False
    path = session.path("events", stream=True)
    old = path.with_name(path.name + ".old")
    path.rename(old)
    try:
        w = session.stream_writer("events", fsync_interval_s=None)
        for e in events:
            if isinstance(e, dict) and e.get("type") == "utterance":
                e = {k: v for k, v in e.items() if k not in ("text", "words")}
            w.append(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        w.close()
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        old.rename(path)
        raise
    old.unlink()
    return True


def purge_session(store, session_id: str, days: int) -> list[str]:
    """Reduce one session to de-identified figures; returns what was removed."""
    s = store.session(session_id)
    removed = []
    if s.remove("audio", stream=True):
        removed.append("audio")
    for role in TRANSCRIPT_ROLES:
        if s.has(role):
            doc = s.read_json(role)
            if isinstance(doc, dict) and doc.get("utterances"):
                s.write_json(role, _strip_words(doc))
                if "transcript" not in removed:
                    removed.append("transcript")
    if _strip_events(s) and "transcript" not in removed:
        removed.append("transcript")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    s.update(audio=None, retention={"applied_at": now, "days": days, "removed": removed})
    store.audit("retention", session=session_id, days=days, removed=removed)
    return removed


def apply_retention(store, days: int, now: datetime | None = None, dry_run: bool = False) -> RetentionResult:
    """Every session older than ``days`` (by its start) that still has a recording or words keeps only
    de-identified figures. ``days`` <= 0 does nothing. Sessions still recording or left unsealed by a
    crash are skipped (recover them first)."""
    result = RetentionResult()
    if not days or days <= 0:
        return result
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    unsealed = None
    for summary in store.list_sessions():
        t = _started(summary)
        if t is None or t > cutoff:
            continue
        try:
            meta = store.session(summary.id).meta
        except Exception as exc:  # noqa: BLE001 - one session's trouble does not stop the others
            result.skipped.append((summary.id, f"unreadable: {exc}"))
            continue
        r = meta.get("retention")
        if isinstance(r, dict) and r.get("applied_at"):
            continue
        if meta.get("status") == "recording":
            if unsealed is None:
                unsealed = set(store.unsealed_sessions())
            if summary.id in unsealed:
                result.skipped.append((summary.id, "still recording or interrupted (recover it first)"))
                continue
        if dry_run:
            result.purged.append(summary.id)
            continue
        try:
            purge_session(store, summary.id, days)
            result.purged.append(summary.id)
        except Exception as exc:  # noqa: BLE001
            log.warning("retention: session %s: %s", summary.id, exc)
            result.skipped.append((summary.id, str(exc)))
    return result


def apply_retention_at_startup(store, settings=None) -> RetentionResult:
    """The app's start-up step (after unlocking): the saved retention setting applied, never fatal."""
    t = time.perf_counter()
    try:
        if settings is None:
            from app.settings import load_settings

            settings = load_settings()
        result = apply_retention(store, int(getattr(settings, "retention_days", 0) or 0))
    except Exception as exc:  # noqa: BLE001 - retention must not stop the app from opening
        log.warning("retention could not be applied: %s", exc)
        return RetentionResult()
    if result.purged:
        log.info("retention: %d session(s) reduced to de-identified figures (%.2f s)", len(result.purged),
                 time.perf_counter() - t)
    return result
