"""Results: the console protocol's marker lines parsed into a KernelResult, skips and known
failures checked against vm-tests/README.md, and the per-kernel and final reports."""

import os
import re

from .config import README
from .qemu import FATAL_RE

RESULT_RE = re.compile(
    r"FINESSE-VM-RESULT kernel=(\S+) passed=(\d+) failed=(\d+) skipped=(\d+)")
TEST_RE = re.compile(r"^FINESSE-VM-TEST\t(PASS|FAIL|SKIP)\t(\d+)s\t([^\t]*)\t?(.*)$")
SKIPCASE_RE = re.compile(r"^FINESSE-VM-SKIPCASE\t([^\t]*)\t(\S+)$")


class KernelResult:
    def __init__(self, name):
        self.name, self.release, self.ok = name, "?", False
        self.passed = self.failed = self.skipped = 0
        self.problems, self.failed_tests, self.skips = [], [], []
        self.boot_secs = self.image_secs = self.image_bytes = 0


def parse_console(lines, expected_tests, result):
    """Fills a KernelResult from the console lines; returns nothing, sets result.ok."""
    per_test, skipcases, marker = {}, [], None
    for line in lines:
        m = TEST_RE.match(line)
        if m:
            per_test[m.group(3)] = (m.group(1), m.group(4))
        m = SKIPCASE_RE.match(line)
        if m:
            skipcases.append((m.group(1), m.group(2)))
        m = RESULT_RE.search(line)
        if m:
            marker = m
        if FATAL_RE.search(line):
            result.problems.append(f"guest kernel error on the console: {line.strip()}")
    if marker is None:
        result.problems.append("no FINESSE-VM-RESULT marker on the console "
                               "(guest hung, panicked or was killed)")
    else:
        result.release = marker.group(1)
        result.passed, result.failed, result.skipped = (int(marker.group(i)) for i in (2, 3, 4))
        total = result.passed + result.failed + result.skipped
        if total != len(expected_tests):
            result.problems.append(f"guest reported {total} tests, expected {len(expected_tests)}")
    result.failed_tests = [n for n, (r, _) in per_test.items() if r == "FAIL"]
    missing = [t.name for t in expected_tests if t.name not in per_test]
    if marker is None and missing:
        result.problems.append(f"{len(missing)} tests never finished, first: {missing[0]}")
    # Skips: (ctest test, gtest case) for every gtest case that skipped, and (test, test) for
    # a skipped test that is not a gtest (skip return code, DISABLED, ...).
    result.skips = list(dict.fromkeys(skipcases))
    result.skips += [(n, n) for n, (r, _) in per_test.items()
                     if r == "SKIP" and not any(t == n for t, _ in skipcases)]
    result.ok = marker is not None and result.failed == 0 and not result.problems


def test_output(lines, name):
    """The console lines between FINESSE-VM-BEGIN and -END of one test."""
    out, inside = [], False
    for line in lines:
        if line == f"FINESSE-VM-BEGIN\t{name}":
            inside, out = True, []
        elif line.startswith(f"FINESSE-VM-END\t{name}\t"):
            inside = False
        elif inside:
            out.append(line)
    return out


def skip_reason(lines, test, case):
    """The text gtest printed between '[ RUN      ] case' and '[  SKIPPED ] case'."""
    out = test_output(lines, test)
    text, inside = [], False
    for line in out:
        if line.startswith(f"[ RUN      ] {case}"):
            inside, text = True, []
        elif line.startswith(f"[  SKIPPED ] {case}"):
            break
        elif inside:
            text.append(line.strip())
    reason = " ".join(t for t in text if t and not re.match(r"^\S+:\d+: Skipped$", t))
    return reason or "(no message)"


def readme_bullets(section, bullet_re):
    """The matches of bullet_re on the lines of vm-tests/README.md's '## <section>' section."""
    found, in_section = [], False
    if not os.path.exists(README):
        return found
    with open(README) as f:
        for line in f:
            if line.startswith("## "):
                in_section = line.strip().lower().startswith("## " + section)
                continue
            m = re.match(bullet_re, line) if in_section else None
            if m:
                found.append(m)
    return found


def documented_skips():
    """Regexes from the 'Skips' section of vm-tests/README.md: bullets '- `REGEX` reason'."""
    return [re.compile(m.group(1))
            for m in readme_bullets("skips", r"^\s*[-*] `([^`]+)`\s*[-:—–]*\s*(\S.*)$")]


def check_skips(result, lines, allowed):
    """Prints every skip with gtest's reason; an undocumented skip is a problem."""
    for test, case in result.skips:
        reason = skip_reason(lines, test, case)
        documented = any(p.fullmatch(case) or p.fullmatch(test) for p in allowed)
        print(f"  skipped: {case}" + (f" (in {test})" if case != test else "")
              + f": {reason}" + ("" if documented else "  [NOT DOCUMENTED in vm-tests/README.md]"))
        if not documented:
            result.problems.append(f"skip of {case} is not listed under 'Skips' in "
                                   "vm-tests/README.md (add it with the reason)")
    if result.problems:
        result.ok = False


def documented_known_failures(kernel_name):
    """Regexes from the 'Known failures' section of vm-tests/README.md for this kernel:
    bullets '- `KERNEL` `REGEX` reason' (KERNEL as in kernels.json, or *)."""
    bullets = readme_bullets("known failures",
                             r"^\s*[-*] `([^`]+)` `([^`]+)`\s*[-:—–]*\s*(\S.*)$")
    return [re.compile(m.group(2)) for m in bullets if m.group(1) in (kernel_name, "*")]


def check_known_failures(result, kernel_name):
    """A failure documented (with its reason) under 'Known failures' for this kernel is
    reported but does not fail the run; every other failure does."""
    known = documented_known_failures(kernel_name)
    if not known or not result.failed_tests:
        return
    unknown = [n for n in result.failed_tests if not any(p.fullmatch(n) for p in known)]
    for name in result.failed_tests:
        if name not in unknown:
            print(f"  known failure on {kernel_name} (vm-tests/README.md): {name}")
    if not unknown and not result.problems and result.release:
        result.ok = True


def print_kernel_report(result, lines, log_path):
    """After one kernel: the output of its failed tests, its problems, the log path if it
    failed, and its result line."""
    for name in result.failed_tests:
        out = test_output(lines, name)
        print(f"  ---- output of failed test {name} (last 40 of {len(out)} lines) ----")
        for line in out[-40:]:
            print(f"  | {line}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    if not result.ok:
        print(f"  console log: {log_path}")
    print(f"  [{result.name}] kernel={result.release} passed={result.passed} "
          f"failed={result.failed} skipped={result.skipped} ({result.boot_secs:.0f}s in the VM) "
          f"{'OK' if result.ok else 'FAILED'}", flush=True)


def print_summary(results, total):
    """The table at the end of the run: one line per kernel, then the total time."""
    print("\nvm-test summary:")
    for r in results:
        print(f"  {r.name:<12} kernel={r.release:<28} passed={r.passed:<4} failed={r.failed:<4} "
              f"skipped={r.skipped:<4} vm={r.boot_secs:5.0f}s  {'OK' if r.ok else 'FAILED'}")
    print(f"  total {total:.0f}s")
