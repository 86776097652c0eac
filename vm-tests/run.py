#!/usr/bin/env python3
"""Boot pinned Debian kernels in QEMU and run Finesse's ctest suite inside them.

Usage (what `make vm-test` and CI call):

    python3 vm-tests/run.py --build-dir build

The entry point only: the runner is the package finesse_vm/ next to this file (its
__init__.py lists the modules). Only the Python standard library is used. See
vm-tests/README.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from finesse_vm.cli import main  # noqa: E402  (needs the path above)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
