"""Install or uninstall RevitPyIoT for the current user.

    python install.py              install (again: changes only what is missing or outdated)
    python install.py --uninstall  remove what install added (your data stays)
    python install.py --help       all options

Standard library only, and this file parses under any Python so an old interpreter gets a
clear message instead of a syntax error.
"""
import os
import sys

MIN_PYTHON = (3, 11)


def _main():
    if sys.version_info[:2] < MIN_PYTHON:
        # {0}-style fields and no f-string: this must run (to say this) on very old Pythons too
        sys.stderr.write(
            "RevitPyIoT needs Python {0}.{1} or newer; this is Python {2}.{3} ({4}).\n"  # noqa: UP030
            "Install it from https://www.python.org/downloads/ ('Install for me only' needs no admin "
            "rights), then run: py -3 install.py\n".format(
                *(MIN_PYTHON + sys.version_info[:2] + (sys.executable,))))
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from revitpyiot_installer.cli import main
    return main()


if __name__ == "__main__":
    sys.exit(_main())
