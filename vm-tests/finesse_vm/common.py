"""Helpers every module uses: the run-ending error, log lines and running commands."""

import subprocess


class VmTestError(Exception):
    """A problem that ends the run with a clear one-paragraph message."""


def log(msg):
    print(f"vm-test: {msg}", flush=True)


def run(cmd, **kw):
    """subprocess.run with text output captured; never raises on a non-zero status."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
