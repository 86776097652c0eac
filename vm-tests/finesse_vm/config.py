"""kernels.json, the README the skip/known-failure lists come from, and the cache dir."""

import json
import os

from .common import VmTestError

# vm-tests/, the directory above this package.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS_JSON = os.path.join(HERE, "kernels.json")
README = os.path.join(HERE, "README.md")

SYSTEM_CACHE = "/var/cache/finesse-vm-tests"


def load_config():
    with open(KERNELS_JSON) as f:
        return json.load(f)


def cache_dir():
    """The download/unpack cache: outside the source tree, shared by all checkouts."""
    if os.environ.get("FINESSE_VM_CACHE"):
        path = os.environ["FINESSE_VM_CACHE"]
    else:
        path = SYSTEM_CACHE
        try:
            os.makedirs(path, exist_ok=True)
            if not os.access(path, os.W_OK):
                raise PermissionError(path)
        except OSError:
            base = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
            path = os.path.join(base, "finesse-vm-tests")
    os.makedirs(path, exist_ok=True)
    return path


def select_kernels(cfg, wanted):
    if not wanted:
        return cfg["kernels"]
    chosen = [k for k in cfg["kernels"]
              if k["name"] in wanted or k["package"] in wanted or k["series"] in wanted]
    if not chosen:
        names = ", ".join(k["name"] for k in cfg["kernels"])
        raise VmTestError(f"no kernel named {wanted} in kernels.json (have: {names})")
    return chosen
