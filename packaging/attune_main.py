"""Entry point of the frozen bundle (build.spec): `attune` with the same commands as the installed script.

multiprocessing.freeze_support() must run first: the analysis process (app/analysis_process.py) and
`attune batch` (app/batch.py) start workers with the "spawn" method, which in a frozen app re-runs this
executable with multiprocessing's own arguments instead of a Python interpreter.
"""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.cli import main

    sys.exit(main())
