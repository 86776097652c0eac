#!/usr/bin/env python3
"""Markdown tables from finesse-bench --json output, for docs/benchmarks.md and the README.

usage: bench/markdown_tables.py build/bench/results.json [--summary]
--summary: only the per-call tables of the first storage (the README's table).
"""
import json
import sys


def num(v):
    if v is None:
        return "n/a"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def per_call(config):
    if not config.get("results"):
        return []
    out = [f"**per call: {config['storage']} source ({config['source_fs']}), {config['label']}**", "",
           "| operation | native µs | kernel FUSE µs | bypass µs | FUSE overhead removed | "
           "CPU µs/call native / FUSE / bypass | goal |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for r in config["results"]:
        c = r["columns"]
        kind = r["target"]["kind"]
        if kind == "none":
            removed, goal = "not bypassed", "-"
        elif kind.startswith("bypass<="):
            removed = f"bypass/fuse {r['bypass_over_fuse']:.2f}×"
            goal = ("met" if r["target"]["met"] else "**missed**") + " (≤1.5× cached kernel)"
        else:
            removed = num(r["overhead_removed"])
            goal = ("met" if r["target"]["met"] else "**missed**") + " (≥0.8)"
        cpu = " / ".join(num(c[k]["cpu_us_per_call"]) for k in ("native", "fuse", "bypass"))
        out.append(f"| {r['label']} | {num(c['native']['median_us'])} | {num(c['fuse']['median_us'])} "
                   f"| {num(c['bypass']['median_us'])} | {removed} | {cpu} | {goal} |")
    return out


def deletes(doc, config):
    if not config.get("delete"):
        return []
    out = [f"**delete {doc['delete_files']} files: {config['storage']} source, {config['label']}**", "",
           "| threads | native files/s | kernel FUSE files/s | bypass files/s | FUSE/native | "
           "bypass/native | CPU µs/file native / FUSE / bypass |",
           "|---:|---:|---:|---:|---:|---:|---:|"]
    for d in config["delete"]:
        c, r = d["columns"], d["throughput_over_native"]
        cpu = " / ".join(num(c[k]["cpu_us_per_file"]) for k in ("native", "fuse", "bypass"))
        out.append(f"| {d['threads']} | {c['native']['median_files_per_s']:.0f} | "
                   f"{c['fuse']['median_files_per_s']:.0f} | {c['bypass']['median_files_per_s']:.0f} | "
                   f"{r['fuse']:.2f}× | {r['bypass']:.2f}× | {cpu} |")
    return out


def apps(doc, config):
    if not config.get("apps"):
        return []
    out = [f"**applications, {doc['app_files']} files: {config['storage']} source, "
           f"{config['label']}** (plain: kernel FUSE without Finesse, a twin daemon; attached: "
           f"the kernel path with the server attached, no shim, as a static binary sees it; "
           f"bypass: `LD_PRELOAD=libfinesse_preload.so`)", "",
           "| program | native ms | plain FUSE ms | attached ms | bypass ms | attached/native | "
           "bypass/native | attached/plain | bypass/attached | CPU ms native / plain / attached / bypass |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for a in config["apps"]:
        c, r = a["columns"], a["time_over_native"]
        keys = ("native", "plain", "fuse", "bypass")
        ms = {k: num(c[k]["median_s"] * 1e3) if k in c else "–" for k in keys}
        cpu = " / ".join(num(c[k]["cpu_s"] * 1e3) if k in c else "–" for k in keys)

        def goal(v):
            return "n/a" if not v else f"{v:.2f}×" + ("" if v <= 1.0 else " **(> 1)**")
        out.append(f"| `{a['label']}` | {ms['native']} | {ms['plain']} | {ms['fuse']} | "
                   f"{ms['bypass']} | {r['fuse']:.2f}× | {r['bypass']:.2f}× | "
                   f"{goal(a.get('attached_over_plain'))} | {goal(a.get('bypass_over_fuse'))} | {cpu} |")
    return out


def harm(doc):
    h = doc.get("harm")
    if not h:
        return []
    out = [f"**do no harm: whole-process times, {h['storage']} storage, trees of {h['files']} files, "
           f"{h['rounds']} interleaved rounds ({h.get('one_shot_rounds', h['rounds'])} for `true` and one "
           f"stat; (a): blocks of {h['block']} runs per state)** (ratio: median over rounds of "
           f"variant / baseline)", "",
           "| part | case | config | variant / baseline | variant ms | baseline ms | ratio [q1–q3] | "
           "bypassed | goal |",
           "|---|---|---|---|---:|---:|---:|---:|---|"]
    for c in h["cases"]:
        goal = ("met" if c["met"] else "**missed**") + f" (≤{c['target']:.2f}×)"
        bypassed = "-" if c["bypassed"] is None else str(c["bypassed"])
        label = c["label"].replace("|", "\\|")  # a pipe would end the cell
        out.append(f"| ({c['part']}) | {label} | {c['config'] or '-'} | "
                   f"{c['variant']} / {c['baseline']} | {num(c['variant_median_s'] * 1e3)} | "
                   f"{num(c['baseline_median_s'] * 1e3)} | {c['ratio_median']:.3f}× "
                   f"[{c['ratio_q1']:.3f}–{c['ratio_q3']:.3f}] | {bypassed} | {goal} |")
    return out


def spin(doc):
    if not doc.get("spin_sweep"):
        return []
    out = ["**spin-budget sweep** (client, client-wake and server spin all set to the value; "
           "no kernel caching)", "",
           "| spin µs | operation | kernel FUSE µs | bypass µs | removed | CPU µs/call FUSE / bypass |",
           "|---:|---|---:|---:|---:|---:|"]
    for e in doc["spin_sweep"]:
        if e.get("result") is None:
            out.append(f"| {e['spin_us']} | child run failed | | | | |")
            continue
        for config in e["result"]["configs"]:
            for r in config["results"]:
                c = r["columns"]
                out.append(f"| {e['spin_us']} | {r['label']} | {num(c['fuse']['median_us'])} | "
                           f"{num(c['bypass']['median_us'])} | {num(r['overhead_removed'])} | "
                           f"{num(c['fuse']['cpu_us_per_call'])} / {num(c['bypass']['cpu_us_per_call'])} |")
    return out


def pinned(doc):
    t = doc.get("taskset")
    if not t or t.get("result") is None:
        return []
    out = [f"**client and daemon pinned to CPU {t['cpu']}**", ""]
    for config in t["result"]["configs"]:
        out += per_call(config) + [""]
    return out


def main():
    doc = json.load(open(sys.argv[1]))
    summary = "--summary" in sys.argv
    lines = []
    configs = doc["configs"]
    if summary and configs:
        configs = [c for c in configs if c["storage"] == configs[0]["storage"]]
    for config in configs:
        lines += per_call(config) + [""]
    if not summary:
        for config in configs:
            lines += deletes(doc, config) + [""]
        for config in configs:
            lines += apps(doc, config) + [""]
        lines += spin(doc) + [""] + pinned(doc) + [""] + harm(doc)
        if doc.get("problems"):
            lines += ["**problems flagged by the run:**", ""] + [f"- {p}" for p in doc["problems"]]
    print("\n".join(l for i, l in enumerate(lines) if l or (i and lines[i - 1])))


if __name__ == "__main__":
    main()
