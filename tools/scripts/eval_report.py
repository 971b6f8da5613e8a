#!/usr/bin/env python3
"""Plots and a markdown report from `structkv eval` results.

Reads DIR/results.jsonl (tasks and the needle test) and DIR/fidelity.jsonl
(teacher-forced comparison with the uncompressed cache), and writes into OUT:
  plots/score_vs_budget_L{len}_{mode}.{png,svg}  mean task score per method,
      full KV dashed, 95% bootstrap intervals;
  plots/needle_{method}_{budget}_{mode}.{png,svg}  depth x length heatmaps
      (red -> yellow -> green), the mean in the caption;
  plots/kl_vs_budget_L{len}.{png,svg}  KL(P_full || P_comp), log y;
  plots/att_err_L{len}.{png,svg}  attention-output relative error per layer;
  report.md linking them, with tables and confidence intervals.

Usage: eval_report.py DIR --out docs/quality [--command "the eval commands"]
"""
import argparse
import json
import math
import os
import random
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402


def load_jsonl(path):
    """Rows in file order; the first row of a key wins, as in ResultStore
    (two runs sharing a folder may both have answered the same key)."""
    rows, seen = [], set()
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill; the run redoes it
            if row.get("key") in seen:
                continue
            seen.add(row.get("key"))
            rows.append(row)
    return rows


def bootstrap_ci(values, reps=2000, seed=0):
    """95% percentile bootstrap interval of the mean (in the values' unit)."""
    if not values:
        return (float("nan"), float("nan"))
    if len(values) == 1:
        return (values[0], values[0])
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choice(values) for _ in range(n)) / n for _ in range(reps))
    return (means[int(0.025 * reps)], means[int(0.975 * reps) - 1])


def wilson_ci(successes, n, z=1.96):
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (centre - half, centre + half)


def save(fig, out_dir, name):
    os.makedirs(os.path.join(out_dir, "plots"), exist_ok=True)
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out_dir, "plots", f"{name}.{ext}"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f"plots/{name}.png"


def fmt_budget(b):
    return f"{100 * b:g}%"


# Prose haystacks chosen with --haystack other than the default essays: their
# rows reuse the same (task, index) as the essay prompts, so they get their own
# table instead of joining the sweep.
ALT_HAYSTACKS = ("gcide", "fortunes")


def task_section(rows, out_dir, md):
    tasks = [r for r in rows if r.get("kind") == "task" and r["task"] != "needle"
             and r["haystack"] not in ALT_HAYSTACKS]
    if not tasks:
        md.append("No task results yet.\n")
        return
    lengths = sorted({r["length"] for r in tasks})
    modes = [m for m in ("agnostic", "aware") if any(r["mode"] == m for r in tasks)]
    methods = []
    for r in tasks:
        if r["method"] not in methods:
            methods.append(r["method"])

    # Full KV per task: what the uncompressed model can do at all.
    md.append("### Uncompressed model per task\n")
    md.append("Score of `full` (percent, RULER string match), mean over samples; the "
              "haystack each task used is named.\n")
    md.append("| task | haystack | " + " | ".join(f"L={L} {m}" for L in lengths for m in modes) + " |")
    md.append("|---|---|" + "---|" * (len(lengths) * len(modes)))
    task_names = sorted({r["task"] for r in tasks})
    for t in task_names:
        hay = sorted({r.get("haystack_source", r["haystack"]) for r in tasks if r["task"] == t})
        cells = []
        for L in lengths:
            for m in modes:
                v = [r["score"] for r in tasks
                     if r["task"] == t and r["length"] == L and r["mode"] == m and r["method"] == "full"]
                cells.append(f"{100 * sum(v) / len(v):.0f} (n={len(v)})" if v else "-")
        md.append(f"| {t} | {'; '.join(hay)} | " + " | ".join(cells) + " |")
    md.append("")

    # Score vs budget: only the prompts every plotted configuration answered,
    # so methods are compared on the same samples.
    md.append("### Score vs KV budget\n")
    for L in lengths:
        for mode in modes:
            sub = [r for r in tasks if r["length"] == L and r["mode"] == mode]
            if not sub:
                continue
            scores = defaultdict(dict)  # (method, budget) -> {(task, index): score}
            for r in sub:
                scores[(r["method"], r["budget"])][(r["task"], r["index"])] = r["score"]
            full = scores.get(("full", 1.0), {})
            budgets = sorted({b for (m, b) in scores if m != "full"})
            # Per budget, compare the methods on the prompts all of them (and
            # full) answered: a run cut short leaves some configurations behind.
            common = {}
            for b in budgets:
                sets = [set(d) for (m, bb), d in scores.items() if m != "full" and bb == b]
                common[b] = set.intersection(*sets) & set(full) if sets else set()
            union = set().union(*common.values()) if common else set(full)
            if not union:
                continue
            fig, ax = plt.subplots(figsize=(7.5, 4.5))
            table = []
            full_scores = [full[k] for k in union]
            fm = 100 * sum(full_scores) / len(full_scores)
            ax.axhline(fm, color="black", linestyle="--", label=f"full KV ({fm:.0f})")
            lo, hi = bootstrap_ci(full_scores)
            table.append(("full", "100%", "0%", fm, 100 * lo, 100 * hi, len(full_scores), "-", fm))
            for i, method in enumerate(m for m in methods if m != "full"):
                xs, ys, los, his = [], [], [], []
                for b in budgets:
                    d = scores.get((method, b))
                    if not d or not common[b]:
                        continue
                    v = [d[k] for k in sorted(common[b])]
                    mean = 100 * sum(v) / len(v)
                    lo, hi = bootstrap_ci(v)
                    xs.append(100 * b)
                    ys.append(mean)
                    los.append(mean - 100 * lo)
                    his.append(100 * hi - mean)
                    # Paired with full on the same prompts: answers lost.
                    lost = sum(1 for k in common[b] if full[k] > d[k])
                    fsame = 100 * sum(full[k] for k in common[b]) / len(common[b])
                    removed = [r["compression_ratio"] for r in sub
                               if r["method"] == method and r["budget"] == b]
                    table.append((method, fmt_budget(b),
                                  f"{100 * sum(removed) / len(removed):.0f}%",
                                  mean, 100 * lo, 100 * hi, len(v), lost, fsame))
                if xs:
                    ax.errorbar([x * (1 + 0.015 * (i - 4)) for x in xs], ys, yerr=[los, his],
                                marker="o", capsize=2, label=method)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks([100 * b for b in budgets])
            ax.set_xticklabels([fmt_budget(b) for b in budgets])
            ax.set_xlabel("KV budget (fraction of the prompt's entries kept)")
            ax.set_ylabel("score (%), mean over prompts")
            ax.set_ylim(-3, 103)
            n_prompts = len(union)
            ax.set_title(f"L={L}, query-{mode}: up to {n_prompts} prompts "
                         f"({len({t for t, _ in union})} tasks)")
            ax.legend(fontsize=7, ncol=2, loc="best")
            link = save(fig, out_dir, f"score_vs_budget_L{L}_{mode}")
            md.append(f"![score vs budget, L={L}, {mode}]({link})\n")
            md.append(f"L={L}, query-{mode}. At each budget the methods are scored on the same "
                      "prompts (those every method and full answered); 95% percentile bootstrap "
                      "interval over prompts; `lost` counts prompts where full KV scored higher "
                      "than the method (paired); `full, same prompts` is full KV on those prompts; "
                      "`removed` is the mean measured fraction of KV bytes removed.\n")
            md.append("| method | budget | removed | score | 95% CI | n | lost vs full | full, same prompts |")
            md.append("|---|---|---|---|---|---|---|---|")
            for m, b, rm, sc, lo, hi, n, lost, fsame in table:
                md.append(f"| {m} | {b} | {rm} | {sc:.1f} | [{lo:.1f}, {hi:.1f}] | {n} | {lost} | {fsame:.1f} |")
            md.append("")


def haystack_section(rows, md):
    """Methods on the same task, length and budget, one column per prose haystack."""
    tasks = [r for r in rows if r.get("kind") == "task" and r["task"] != "needle"]
    combos = sorted({(r["task"], r["length"], r["budget"]) for r in tasks
                     if r["haystack"] in ALT_HAYSTACKS and r["method"] != "full"})
    if not combos:
        return
    md.append("### By haystack\n")
    for task, L, b in combos:
        sub = [r for r in tasks if r["task"] == task and r["length"] == L
               and (r["budget"] == b or r["method"] == "full")]
        hays = sorted({r["haystack"] for r in sub}, key=lambda h: (h in ALT_HAYSTACKS, h))
        source = {r["haystack"]: r.get("haystack_source", r["haystack"]) for r in sub}
        modes = [m for m in ("agnostic", "aware") if any(r["mode"] == m for r in sub)]
        methods = []
        for r in sub:
            if r["method"] not in methods:
                methods.append(r["method"])
        md.append(f"{task}, L={L}, budget {fmt_budget(b)} (`full`: 100%); mean score (n prompts). "
                  "Haystacks: " + "; ".join(f"`{h}` = {source[h]}" for h in hays) + ".\n")
        md.append("| method | " + " | ".join(f"{h} {m}" for h in hays for m in modes) + " |")
        md.append("|---|" + "---|" * (len(hays) * len(modes)))
        for method in methods:
            cells = []
            for h in hays:
                for m in modes:
                    v = [r["score"] for r in sub
                         if r["method"] == method and r["haystack"] == h and r["mode"] == m]
                    cells.append(f"{100 * sum(v) / len(v):.0f} (n={len(v)})" if v else "-")
            md.append(f"| {method} | " + " | ".join(cells) + " |")
        md.append("")


def needle_section(rows, out_dir, md):
    needle = [r for r in rows if r.get("kind") == "task" and r["task"] == "needle"]
    if not needle:
        return
    md.append("### Needle in a haystack\n")
    configs = sorted({(r["method"], r["budget"], r["mode"]) for r in needle},
                     key=lambda c: (c[0] != "full", c[0], c[1], c[2]))
    for method, budget, mode in configs:
        sub = [r for r in needle if (r["method"], r["budget"], r["mode"]) == (method, budget, mode)]
        lengths = sorted({r["length"] for r in sub})
        depths = sorted({r["depth"] for r in sub})
        grid = [[float("nan")] * len(lengths) for _ in depths]
        for i, d in enumerate(depths):
            for j, L in enumerate(lengths):
                v = [r["score"] for r in sub if r["depth"] == d and r["length"] == L]
                if v:
                    grid[i][j] = 100 * sum(v) / len(v)
        allv = [r["score"] for r in sub]
        mean = 100 * sum(allv) / len(allv)
        lo, hi = wilson_ci(sum(1 for v in allv if v >= 1.0), len(allv))
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(lengths), 4.2))
        im = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
        ax.set_xticks(range(len(lengths)))
        ax.set_xticklabels([str(L) for L in lengths])
        ax.set_yticks(range(len(depths)))
        ax.set_yticklabels([f"{100 * d:.0f}%" for d in depths])
        ax.set_xlabel("prompt tokens")
        ax.set_ylabel("needle depth")
        for i in range(len(depths)):
            for j in range(len(lengths)):
                if not math.isnan(grid[i][j]):
                    ax.text(j, i, f"{grid[i][j]:.0f}", ha="center", va="center", fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.05)
        label = "full KV" if method == "full" else f"{method} @ {fmt_budget(budget)}"
        ax.set_title(f"{label}, {mode}\nmean {mean:.1f}% (n={len(allv)})", fontsize=9)
        link = save(fig, out_dir, f"needle_{method}_{budget:g}_{mode}")
        md.append(f"![needle {label} {mode}]({link})\n")
        md.append(f"{label}, query-{mode}: mean {mean:.1f}% over {len(allv)} prompts "
                  f"(Wilson 95% CI of the found rate [{100 * lo:.0f}, {100 * hi:.0f}]%); "
                  f"haystack: {sub[0].get('haystack_source', sub[0]['haystack'])}.\n")


def kl_figure(sub, methods, x_of):
    """Mean KL per (method, budget) on a log axis, x = x_of(budget, rows), with
    full's KL (the noise floor) dashed."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    floor = [r["kl_mean"] for r in sub if r["method"] == "full"]
    if floor:
        ax.axhline(sum(floor) / len(floor), color="black", linestyle="--", label="full (noise floor)")
    for m in methods:
        if m == "full":
            continue
        xs, ys = [], []
        for b in sorted({r["budget"] for r in sub if r["method"] == m}):
            v = [r for r in sub if r["method"] == m and r["budget"] == b]
            xs.append(x_of(b, v))
            ys.append(sum(r["kl_mean"] for r in v) / len(v))
        ax.plot(xs, ys, marker="o", label=m)
    ax.set_yscale("log")
    return fig, ax


def fidelity_section(rows, out_dir, md):
    fid = [r for r in rows if r.get("kind") == "fidelity"]
    if not fid:
        md.append("No fidelity results yet.\n")
        return
    md.append("### Fidelity against the uncompressed cache\n")
    md.append(f"Teacher forcing of {fid[0]['continuation']} held-out tokens after a compressed "
              f"prefix of L tokens ({fid[0]['haystack_source']}). `full` is the same method "
              "through the same compaction path: its numbers are the noise floor (batch layout "
              "and dropped sliding-window entries change float summation order).\n")
    for L in sorted({r["length"] for r in fid}):
        sub = [r for r in fid if r["length"] == L]
        methods = []
        for r in sub:
            if r["method"] not in methods:
                methods.append(r["method"])
        fig, ax = kl_figure(sub, methods, lambda b, v: 100 * b)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        budgets = sorted({r["budget"] for r in sub if r["method"] != "full"})
        ax.set_xticks([100 * b for b in budgets])
        ax.set_xticklabels([fmt_budget(b) for b in budgets])
        ax.set_xlabel("KV budget")
        ax.set_ylabel("mean KL(P_full || P_comp) (nats)")
        n = len({r["index"] for r in sub})
        ax.set_title(f"L={L}: KL of next-token distributions, {n} text(s)")
        ax.legend(fontsize=7, ncol=2)
        link = save(fig, out_dir, f"kl_vs_budget_L{L}")
        md.append(f"![KL vs budget L={L}]({link})\n")
        # The same points against what each method really removed: budgets
        # mean different byte savings per method (sliding-window layers,
        # skeletons, KVCompose's share of the storable cache).
        fig, ax = kl_figure(
            sub, methods, lambda b, v: 100 * sum(r["compression_ratio"] for r in v) / len(v))
        ax.set_xlabel("KV bytes removed (%), measured against the uncompressed cache")
        ax.set_ylabel("mean KL(P_full || P_comp) (nats)")
        ax.set_title(f"L={L}: KL against the measured compression")
        ax.legend(fontsize=7, ncol=2)
        link = save(fig, out_dir, f"kl_vs_removed_L{L}")
        md.append(f"![KL vs KV bytes removed L={L}]({link})\n")
        md.append(f"L={L}, mean over {n} text(s); `removed` is the measured fraction of KV bytes "
                  "removed (compare methods at equal `removed`, not at equal budget):\n")
        md.append("| method | budget | removed | KL mean | KL p99 | KL max | top-1 agree | flips lost / gained "
                  "| PPL ratio | att. rel. err. (mean over layers) |")
        md.append("|---|---|---|---|---|---|---|---|---|---|")
        for m in methods:
            for b in sorted({r["budget"] for r in sub if r["method"] == m}):
                v = [r for r in sub if r["method"] == m and r["budget"] == b]
                k = len(v)
                att = [sum(r["att_rel_err"]) / len(r["att_rel_err"]) for r in v]
                md.append(
                    f"| {m} | {fmt_budget(b)} | "
                    f"{100 * sum(r['compression_ratio'] for r in v) / k:.0f}% | "
                    f"{sum(r['kl_mean'] for r in v) / k:.4f} | "
                    f"{sum(r['kl_p99'] for r in v) / k:.3f} | {max(r['kl_max'] for r in v):.3g} | "
                    f"{sum(r['top1_agreement'] for r in v) / k:.3f} | "
                    f"{sum(r['flips_lost'] for r in v) / k:.1f} / {sum(r['flips_gained'] for r in v) / k:.1f} | "
                    f"{sum(r['ppl_ratio'] for r in v) / k:.3f} | {sum(att) / k:.3f} |")
        md.append("")
        # Attention-output error per layer at the middle budget.
        mid = sorted(budgets)[len(budgets) // 2] if budgets else None
        if mid is not None:
            fig, ax = plt.subplots(figsize=(7.5, 4.0))
            for m in methods:
                v = [r for r in sub if r["method"] == m and (r["budget"] == mid or m == "full")]
                if not v:
                    continue
                layers = len(v[0]["att_rel_err"])
                ys = [sum(r["att_rel_err"][l] for r in v) / len(v) for l in range(layers)]
                ax.plot(range(layers), ys, marker=".", label=m,
                        linestyle="--" if m == "full" else "-")
            ax.set_yscale("log")
            ax.set_xlabel("layer")
            ax.set_ylabel("||a_comp - a_full|| / ||a_full||")
            ax.set_title(f"L={L}: attention-output relative error per layer at {fmt_budget(mid)}")
            ax.legend(fontsize=7, ncol=2)
            link = save(fig, out_dir, f"att_err_L{L}")
            md.append(f"![attention-output error per layer L={L}]({link})\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="folder with results.jsonl / fidelity.jsonl")
    ap.add_argument("--out", required=True, help="folder for report.md and plots/")
    ap.add_argument("--title", default="StructKV quality report")
    ap.add_argument("--preamble", help="markdown file inserted after the title")
    args = ap.parse_args()
    results = load_jsonl(os.path.join(args.dir, "results.jsonl"))
    fidelity = load_jsonl(os.path.join(args.dir, "fidelity.jsonl"))
    if not results and not fidelity:
        sys.exit(f"eval_report: no results in {args.dir}")
    os.makedirs(args.out, exist_ok=True)
    md = [f"# {args.title}\n"]
    if args.preamble:
        with open(args.preamble, encoding="utf-8") as f:
            md.append(f.read())
    models = sorted({r.get("model", "?") for r in results + fidelity})
    md.append(f"Model(s): {', '.join(models)}. Rows: {len(results)} answers, "
              f"{len(fidelity)} fidelity comparisons (data: `{os.path.relpath(args.dir, args.out)}`).\n")
    md.append("## Tasks (RULER-style)\n")
    task_section(results, args.out, md)
    haystack_section(results, md)
    needle_section(results, args.out, md)
    md.append("## Fidelity\n")
    fidelity_section(fidelity, args.out, md)
    with open(os.path.join(args.out, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    print(f"eval_report: wrote {os.path.join(args.out, 'report.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
