"""The test plan: ctest's `--show-only=json-v1` as GuestTests (command, directory, the
environment ctest would build, timeouts, fixtures, serial tests), adapted per guest."""

import json
import os
import re

from .common import VmTestError, run

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GUEST_BASE_ENV = {"PATH": GUEST_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
                  "SHELL": "/bin/sh"}
# ctest passes its own environment on; pass the project's knobs (FINESSE_*) the same way.
GUEST_BASE_ENV.update({k: v for k, v in os.environ.items()
                       if k.startswith("FINESSE_") and not k.startswith("FINESSE_VM_")})


class GuestTest:
    """One test as the guest runs it: a name, an argv, a directory, an env and ctest's rules."""

    def __init__(self, name, argv, cwd, env, timeout, will_fail=False, skip_rc="",
                 skip_re="", pass_re="", fail_re="", disabled=False, phase="parallel",
                 has_timeout_property=False):
        self.name, self.argv, self.cwd, self.env = name, argv, cwd, env
        self.timeout, self.will_fail, self.disabled = timeout, will_fail, disabled
        self.skip_rc, self.skip_re, self.pass_re, self.fail_re = skip_rc, skip_re, pass_re, fail_re
        self.phase, self.has_timeout_property = phase, has_timeout_property


def ctest_tests(build_dir, name_filter, default_timeout, exclude=""):
    """The tests `ctest --test-dir build -R name_filter -E exclude` would run, as GuestTests in
    ctest's order (a filtered run still gets the fixture setup/cleanup tests it requires, as in
    ctest). Disabled tests (gtest's DISABLED_ cases) are left out, as ctest does not run them."""
    r = run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"])
    if r.returncode != 0:
        raise VmTestError(f"ctest --show-only=json-v1 failed in {build_dir}: {r.stderr.strip()}")
    entries = []
    for t in json.loads(r.stdout).get("tests", []):
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        entries.append((t, props))
    selected = {t["name"] for t, props in entries
                if (not name_filter or re.search(name_filter, t["name"]))
                and not (exclude and re.search(exclude, t["name"]))
                and not cmake_true(props.get("DISABLED"))}
    needed = {f for t, props in entries if t["name"] in selected
              for f in props.get("FIXTURES_REQUIRED", [])}
    tests = []
    for t, props in entries:
        fixture_phase = None
        if set(props.get("FIXTURES_SETUP", [])) & needed:
            fixture_phase = "setup"
        elif set(props.get("FIXTURES_CLEANUP", [])) & needed:
            fixture_phase = "cleanup"
        if t["name"] not in selected and not fixture_phase:
            continue
        tests.append(guest_test_from_ctest(t, props, build_dir, default_timeout, fixture_phase))
    return tests


def guest_test_from_ctest(t, props, build_dir, default_timeout, fixture_phase):
    """One ctest json-v1 entry as a GuestTest."""
    argv = t.get("command") or []
    if not argv:  # NOT_AVAILABLE: the executable target was not built
        argv = ["/bin/sh", "-c", f"echo 'test {t['name']} has no command (not built?)'; exit 1"]
    serial = cmake_true(props.get("RUN_SERIAL")) or bool(props.get("RESOURCE_LOCK"))
    timeout = int(float(props.get("TIMEOUT", 0) or 0))
    return GuestTest(
        name=t["name"], argv=argv, cwd=props.get("WORKING_DIRECTORY", build_dir),
        env=apply_ctest_env(dict(GUEST_BASE_ENV), props),
        timeout=timeout or default_timeout, has_timeout_property=bool(timeout),
        will_fail=cmake_true(props.get("WILL_FAIL")),
        skip_rc=str(props.get("SKIP_RETURN_CODE", "")),
        skip_re=regex_alternation(props.get("SKIP_REGULAR_EXPRESSION")),
        pass_re=regex_alternation(props.get("PASS_REGULAR_EXPRESSION")),
        fail_re=regex_alternation(props.get("FAIL_REGULAR_EXPRESSION")),
        disabled=cmake_true(props.get("DISABLED")),
        phase=fixture_phase or ("serial" if serial else "parallel"))


def adapt_to_accel(tests, accel, scale, guest_env):
    """Copies of the tests for one guest: TIMEOUT properties multiplied by `scale` under TCG
    (emulation is several times slower than the host), the harness's own watchdog
    (FINESSE_TEST_TIMEOUT, default 30 s, or the test's own) likewise, FINESSE_TEST_EMULATED set,
    the shim's wait for a server's welcome raised unless set, and --guest-env added."""
    out = []
    for t in tests:
        c = GuestTest(**vars(t))
        c.env = dict(t.env)
        if accel == "tcg":
            if t.has_timeout_property:
                c.timeout = int(t.timeout * scale)
            watchdog = int(c.env.get("FINESSE_TEST_TIMEOUT", "30") or "30")
            c.env["FINESSE_TEST_TIMEOUT"] = str(int(watchdog * scale))
            # Tests that bound a latency loosen it under emulation (FINESSE_TEST_EMULATED).
            c.env["FINESSE_TEST_EMULATED"] = "1"
            # The shim's bound on waiting for a server's welcome (default 1 s): a guest under
            # load waits longer for everything (a ShimCases test saw it run out on 6.1).
            c.env.setdefault("FINESSE_HANDSHAKE_TIMEOUT_MS", str(int(1000 * scale)))
        c.env.update(guest_env)
        out.append(c)
    return out


def cmake_true(value):
    """CMake's notion of a true property value (json-v1 gives booleans or strings)."""
    if isinstance(value, bool):
        return value
    return str(value or "").upper() in ("1", "ON", "YES", "TRUE", "Y")


def regex_alternation(values):
    """ctest regex lists (any one matching counts) as one grep -E expression."""
    if not values:
        return ""
    values = values if isinstance(values, list) else [values]
    return "|".join(f"({v})" for v in values)


def apply_ctest_env(env, props):
    """Applies the ENVIRONMENT and ENVIRONMENT_MODIFICATION test properties like ctest."""
    for item in props.get("ENVIRONMENT", []) or []:
        key, _, value = item.partition("=")
        env[key] = value
    for item in props.get("ENVIRONMENT_MODIFICATION", []) or []:
        key, _, rest = item.partition("=")
        op, _, value = rest.partition(":")
        cur = env.get(key)
        if op == "reset":
            if key in GUEST_BASE_ENV:
                env[key] = GUEST_BASE_ENV[key]
            else:
                env.pop(key, None)
        elif op == "set":
            env[key] = value
        elif op == "unset":
            env.pop(key, None)
        elif op == "string_append":
            env[key] = (cur or "") + value
        elif op == "string_prepend":
            env[key] = value + (cur or "")
        elif op in ("path_list_append", "cmake_list_append"):
            sep = ":" if op.startswith("path") else ";"
            env[key] = f"{cur}{sep}{value}" if cur else value
        elif op in ("path_list_prepend", "cmake_list_prepend"):
            sep = ":" if op.startswith("path") else ";"
            env[key] = f"{value}{sep}{cur}" if cur else value
    return env


def injected_failure_test():
    """The deliberately failing test added by FINESSE_VM_INJECT_FAILURE=1 / --inject-failure."""
    return GuestTest(
        name="vm.injected-failure",
        argv=["/bin/sh", "-c",
              "echo 'FINESSE_VM_INJECT_FAILURE=1: this test fails on purpose'; exit 1"],
        cwd="/", env=dict(GUEST_BASE_ENV), timeout=60)
