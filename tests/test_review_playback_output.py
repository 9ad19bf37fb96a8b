"""Review playback on a real audio output (issue 14): the review player plays through PulseAudio's null
sink (the virtual device the microphone tests use), its position advances with the wall clock, and the
sound really reaches the output (recorded from the sink's monitor while it plays)."""

from __future__ import annotations

import subprocess
import time

import numpy as np

from tests.test_microphone import _child, pulse, speech_wav  # noqa: F401 (fixtures)

PLAY_S = 2.0


def _play_and_listen(server: dict, code: str, env: dict) -> tuple[dict, int]:
    """Run ``code`` in a child (``_child``) while recording the null sink's monitor: (the child's JSON,
    how many 0.1-s frames of what reached the output were well above the sink's digital silence)."""
    rec = subprocess.Popen(["parec", "--device=attune_sink.monitor", "--raw", "--format=s16le", "--rate=16000",
                            "--channels=1", "--latency-msec=50"], env=server["env"], stdout=subprocess.PIPE)
    try:
        info = _child(code, env, timeout=120)
    finally:
        time.sleep(0.2)
        rec.terminate()
        heard = np.frombuffer(rec.communicate(timeout=10)[0], dtype=np.int16).astype(np.float32) / 32768.0
    frames = heard[: len(heard) // 1600 * 1600].reshape(-1, 1600)
    return info, int((np.sqrt((frames ** 2).mean(axis=1)) > 0.01).sum())


def test_review_player_plays_on_the_output_device(pulse, speech_wav):  # noqa: F811 (fixtures)
    env = {**pulse["env"], "QT_QPA_PLATFORM": "offscreen"}
    info, loud = _play_and_listen(pulse, f"""
            import json, time
            from PySide6.QtCore import QEventLoop, QTimer
            from PySide6.QtMultimedia import QMediaDevices
            from PySide6.QtWidgets import QApplication
            from ui.review_player import ReviewPlayer

            app = QApplication([])
            def spin(seconds, until=lambda: False):
                end = time.monotonic() + seconds
                while time.monotonic() < end and not until():
                    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
                    time.sleep(0.005)
            player = ReviewPlayer()
            player.set_source({str(speech_wav)!r}, 11.0)
            spin(20, lambda: player.is_loaded)
            player.seek(1.0)
            spin(0.3)
            player.play()
            spin(5, lambda: player._player.position() > 1000)  # the output has started
            start_ms, t0 = player._player.position(), time.monotonic()
            spin({PLAY_S})
            end_ms, t1 = player._player.position(), time.monotonic()
            player.pause()
            spin(0.3)
            print(json.dumps({{"loaded": player.is_loaded, "start_ms": start_ms, "end_ms": end_ms,
                               "wall_s": t1 - t0, "output": QMediaDevices.defaultAudioOutput().description()}}))
        """, env)
    assert info["loaded"], info
    advanced = (info["end_ms"] - info["start_ms"]) / 1000.0
    assert abs(advanced - info["wall_s"]) <= 0.35 * info["wall_s"], info  # about as fast as the clock
    assert advanced >= 0.8 * PLAY_S, info
    assert loud >= 10, (info, loud)  # the speech reached the output: a second of it at least


def test_sounddevice_fallback_plays_on_the_output_device(pulse, speech_wav):  # noqa: F811 (fixtures)
    """Where QtMultimedia cannot play, the review plays through PortAudio (the ALSA 'pulse' device here):
    chosen with ATTUNE_PLAYER=sounddevice, same interface, position with the wall clock, sound heard."""
    env = {**pulse["env"], "QT_QPA_PLATFORM": "offscreen", "ATTUNE_PLAYER": "sounddevice",
           "AUDIODEV": "pulse"}
    info, loud = _play_and_listen(pulse, f"""
            import json, time
            import sounddevice as sd
            sd.default.device = (None, "pulse")
            from PySide6.QtCore import QEventLoop
            from PySide6.QtWidgets import QApplication
            from ui.review_player import SoundDevicePlayer, make_player

            app = QApplication([])
            def spin(seconds):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
                    time.sleep(0.005)
            player = make_player()
            errors = []
            player.error.connect(errors.append)
            player.set_source({str(speech_wav)!r}, 11.0)
            player.seek(1.0)
            player.play()
            end = time.monotonic() + 5
            while time.monotonic() < end and player.position() <= 1.2:  # the output has started
                spin(0.02)
            t0, p0 = time.monotonic(), player.position()
            spin({PLAY_S})
            t1, p1 = time.monotonic(), player.position()
            player.set_rate(2.0)
            spin(0.5)
            p2 = player.position()
            player.pause()
            spin(0.2)
            print(json.dumps({{"fallback": isinstance(player, SoundDevicePlayer), "errors": errors,
                               "advanced": p1 - p0, "wall_s": t1 - t0, "at_2x": player.position() - p1,
                               "playing": player.is_playing()}}))
        """, env)
    assert info["fallback"] and not info["errors"], info
    assert abs(info["advanced"] - info["wall_s"]) <= 0.35 * info["wall_s"], info
    assert 0.6 <= info["at_2x"] <= 1.6, info  # 0.5 s at 2x is about 1 s of the recording
    assert not info["playing"], info
    assert loud >= 10, (info, loud)


def test_playback_follows_a_new_default_output(pulse, speech_wav):  # noqa: F811 (fixtures)
    """Headphones plugged in mid-review: a second output appears and becomes the default; the review
    player moves to it and keeps playing."""
    env = {**pulse["env"], "QT_QPA_PLATFORM": "offscreen"}
    info = _child(f"""
        import json, subprocess, time
        from PySide6.QtCore import QEventLoop
        from PySide6.QtMultimedia import QMediaDevices
        from PySide6.QtWidgets import QApplication
        from ui.review_player import ReviewPlayer

        app = QApplication([])
        def spin(seconds, until=lambda: False):
            end = time.monotonic() + seconds
            while time.monotonic() < end and not until():
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
                time.sleep(0.005)
        player = ReviewPlayer()
        player.set_source({str(speech_wav)!r}, 11.0)
        spin(20, lambda: player.is_loaded)
        player.play()
        spin(1.0)
        before = player._out.device().description()
        mod = subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=attune_phones",
                              "sink_properties=device.description=Headphones"], capture_output=True, text=True)
        subprocess.run(["pactl", "set-default-sink", "attune_phones"], check=True)
        spin(5, lambda: player._out.device().description() == "Headphones")
        after = player._out.device().description()
        p0 = player._player.position()
        spin(1.0)
        moving = player._player.position() > p0
        player.pause()
        subprocess.run(["pactl", "set-default-sink", "attune_sink"])
        subprocess.run(["pactl", "unload-module", mod.stdout.strip()])
        print(json.dumps({{"before": before, "after": after, "moving": moving}}))
    """, env, timeout=120)
    assert info["before"] != "Headphones" and info["after"] == "Headphones", info
    assert info["moving"], info
