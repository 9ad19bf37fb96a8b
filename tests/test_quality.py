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
    if ruff is None:
        pytest.skip("ruff is not installed")
    out = subprocess.run([ruff, "check", "."], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:]
