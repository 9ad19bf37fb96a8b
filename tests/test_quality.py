"""Architecture rules: the core is Qt-free, heavy libraries load lazily, the code is lint-clean."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["analysis", "audio"])
def test_core_packages_never_import_qt_or_upper_layers(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in QT_MODULES or top in ("ui", "app"):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders



def test_audio_is_capture_and_decoding_only():
    """Imports flow ui -> app -> analysis, audio: ``audio/`` (capture, decoding) never imports
    ``analysis/`` or ``app/``, even lazily inside a function (the recorder and the test-data generator
    live in ``app/``)."""
    offenders = [f"{path.relative_to(ROOT)} imports {name}"
                 for path in sorted((ROOT / "audio").rglob("*.py"))
                 for name in imported_modules(path) if name.split(".")[0] in ("analysis", "app", "ui")]
    assert not offenders, offenders


def test_ui_reaches_sessions_only_through_the_app_layer():
    """No UI module knows how a session is stored: it names no recorder file or WAV header size and
    opens no store file itself (``app/`` does)."""
    names = ("AUDIO_NAME", "EVENTS_NAME", "SESSION_NAME", "WAV_HEADER_BYTES", "audio.wav", "events.jsonl",
             "audio.stream", "events.stream", "session.enc", "session.key")
    offenders = [f"{path.relative_to(ROOT)} names {n}" for path in sorted((ROOT / "ui").rglob("*.py"))
                 for n in names if n in path.read_text(encoding="utf-8")]
    assert not offenders, offenders

def test_app_never_imports_ui_at_module_level_except_gui_entry():
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only: app.gui may import ui lazily
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ui":
                assert path.name == "gui.py", f"{path.name} imports {node.module}"


def test_importing_the_core_loads_no_qt_and_no_torch():
    code = ("import sys, pkgutil, importlib\n"
            "import analysis, audio\n"
            "for pkg in (analysis, audio):\n"
            "    for m in pkgutil.iter_modules(pkg.__path__):\n"
            "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
            "import app.cli\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'torch', 'pyannote', 'faster_whisper', 'ctranslate2')]\n"
            "print(sorted(set(m.split('.')[0] for m in bad)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff is not None, "ruff is not installed (the dev extra that ./setup.sh installs has it)"
    out = subprocess.run([ruff, "check", "."], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:]


def _provided_modules(dist_name: str) -> set[str]:
    """The importable names a distribution installs (``pyannote.audio`` for a namespace package)."""
    from importlib.metadata import distribution

    files = {str(f).replace("\\", "/") for f in distribution(dist_name).files or ()}
    names = set()
    for f in files:
        parts = f.split("/")
        if parts[0].startswith("..") or parts[0].endswith((".dist-info", ".data")) or parts[0] == "__pycache__":
            continue
        if len(parts) == 1:
            if f.endswith((".py", ".so", ".pyd")):
                names.add(parts[0].split(".")[0])
        elif f"{parts[0]}/__init__.py" in files or len(parts) == 2:
            names.add(parts[0])
        else:  # a namespace package: the sub-package is what this distribution provides
            names.add(f"{parts[0]}.{parts[1]}")
    return names


def test_every_declared_dependency_is_imported():
    """A dependency nothing imports is dead weight (size, licences, security updates); it comes back
    with the code that uses it."""
    import re
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    imported = set()
    for path in (p for pkg in ("analysis", "audio", "app", "ui") for p in (ROOT / pkg).rglob("*.py")):
        imported |= imported_modules(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # data-only use: find_spec("x")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == \
                    "find_spec" and node.args and isinstance(node.args[0], ast.Constant):
                imported.add(str(node.args[0].value))
    unused = []
    for dep in deps:
        dist = re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0]
        provided = _provided_modules(dist)
        assert provided, f"{dist} is not installed"
        if not any(m == p or m.startswith(p + ".") for m in imported for p in provided):
            unused.append(dist)
    assert unused == []
