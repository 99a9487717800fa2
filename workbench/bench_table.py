"""The text table ``workbench bench`` prints (see :mod:`workbench.bench` for the figures)."""

from __future__ import annotations

UNTRAINED = "UNTRAINED WEIGHTS (checkpoint='random'): speed and memory only, the masks are meaningless"


def _mb(b) -> str:
    return f"{b / 2**20:.0f}"


def _p(d: dict, f: str = ".1f") -> str:
    return f"{d['p50']:{f}}/{d['p95']:{f}}"


def format_table(results: dict) -> str:
    """The results as a fixed-width text table (one row per figure, ratios and goals last)."""
    m, yn = results.get("meta", {}), {True: "yes", False: "NO", None: ""}
    head = [
        f"workbench bench: {m.get('model')} on {m.get('device')} ({m.get('gpu') or 'CPU'}), image "
        f"{m.get('image_size')}, torch {m.get('torch')}, {m.get('threads')} threads, {m.get('repeats')} repeats"
    ]
    head += [f"!!! {UNTRAINED} !!!"] if m.get("checkpoint") == "random" else []
    rows = [("section", "figure", "raw", "workbench", "ratio / overhead", "goal", "met")]
    if f := results.get("fps"):
        cpu = f.get("goal_basis") == "cpu_time"
        goal = (f["goal"], yn[f["met"]])
        rows += [
            (
                "fps",
                f"propagation fps, {f['frames']} frames",
                f"{f['raw_fps']:.2f}",
                f"{f['workbench_fps']:.2f}",
                f"{f['ratio']:.3f}",
                *(("", "") if cpu else goal),
            ),
            ("fps", "  same, lazy frames", "", f"{f['workbench_lazy_fps']:.2f}", f"{f['ratio_lazy']:.3f}", "", ""),
            (
                "fps",
                "  by CPU time (preloaded; lazy)",
                f"{f['raw_cpu_fps']:.2f}",
                f"{f['workbench_cpu_fps']:.2f}; {f['workbench_lazy_cpu_fps']:.2f}",
                f"{f['ratio_cpu']:.3f}; {f['ratio_cpu_lazy']:.3f}",
                *(goal if cpu else ("", "")),
            ),
        ]
    if c := results.get("click"):
        rows += [
            (
                "click",
                f"latency p50/p95 ms, {c['clicks']} clicks",
                _p(c["raw_ms"]),
                _p(c["workbench_ms"]),
                f"+{_p(c['overhead_ms'])} ms, x{c['ratio']:.3f}",
                c["goal"],
                yn[c["met"]],
            ),
            ("click", f"  overlay ({c['overlay_encoder']})", "", _p(c["overlay_ms"]), "", "", ""),
        ]
    if mem := results.get("memory"):
        (s, n), r = mem["frames"], mem["runs"]
        for what, label, tag in (
            ("peak_rss_bytes", "peak RSS MB", ""),
            ("video_rss_bytes", "  above model MB", "_video"),
        ):
            rows.append(
                (
                    "memory",
                    f"{label} @{s} -> @{n}, size {mem['image_size']}, {mem.get('tracked', 'all')} tracked",
                    f"{_mb(r[f'raw@{s}'][what])} -> {_mb(r[f'raw@{n}'][what])}",
                    f"{_mb(r[f'workbench@{s}'][what])} -> {_mb(r[f'workbench@{n}'][what])}",
                    f"wb x{mem['workbench_growth' + tag]:.2f}, raw/wb {mem['raw_over_workbench' + tag]:.1f}x",
                    "" if tag else mem["goal"],
                    yn[None if tag else mem["met"]],
                )
            )
        if r[f"raw@{n}"].get("gpu"):
            rows.append(
                (
                    "memory",
                    f"GPU peak MB @{n}",
                    _mb(r[f"raw@{n}"]["gpu"]["peak_bytes"]),
                    _mb(r[f"workbench@{n}"]["gpu"]["peak_bytes"]),
                    f"raw/wb {mem['raw_over_workbench_gpu']:.1f}x",
                    "",
                    "",
                )
            )
        rows.append(
            (
                "memory",
                f"masks identical, first {mem['masks_identical_first_frames']} frames",
                "",
                "",
                yn[mem["masks_identical"]],
                "",
                "",
            )
        )
    if w := results.get("widget"):
        rows.append(
            ("widget", "overhead p50/p95 ms", "", _p(w["overhead_ms"]), "", w["goal"], yn[w["met"]])
            if w.get("available")
            else ("widget", "not available", "", "", w.get("reason", "")[:70], "", "")
        )
    if pol := results.get("policies"):
        rows += _policy_rows(pol, yn)
    if fam := results.get("families"):
        for entry, r in fam["families"].items():
            rows.append(
                (
                    "families",
                    f"{entry} fps, {fam['frames']} frames, {r['image_size'] or 'frame-size'} px, {r['precision']}"
                    + (" UNTRAINED" if r["untrained"] else ""),
                    "",
                    f"{r['fps']:.2f}",
                    f"x{r['ratio']:.3f} (CPU time x{r['ratio_cpu']:.3f}) vs {fam['basis']}",
                    "",
                    "",
                )
            )
            rows.append(
                (
                    "families",
                    "  click p50/p95 ms; set image ms",
                    "",
                    f"{_p(r['click_ms'])}; {r['set_image_ms']:.0f}",
                    "",
                    "",
                    "",
                )
            )
    for model, g in results.get("gpu_suite", {}).items():
        rows.append(
            (
                "gpu",
                f"{model} fps, {g['frames']} frames",
                f"{g['raw_fps']:.1f}",
                f"{g['workbench_fps']:.1f}",
                f"{g['ratio']:.3f}",
                f"A100 published {g['published_a100_fps']}",
                yn[g["met"]],
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(v).ljust(widths[i]) for i, v in enumerate(r)).rstrip() for r in rows]
    return "\n".join([*head, lines[0], "-" * len(lines[0]), *lines[1:]])


def _policy_rows(pol: dict, yn: dict) -> list[tuple]:
    """The policies section: fps per policy, SAM2Long's cost per number of pathways, peak
    memory per policy at two video lengths."""
    goals = pol.get("goals", {})
    rows = []
    for name, p in pol["policies"].items():
        goal = goals.get("samurai", {}) if name == "samurai" else {}
        rows.append(
            (
                "policies",
                f"{name} fps, {pol['frames']} frames, {pol.get('image_size', '')} px ({pol['basis']} ratio)",
                "",
                f"{p['fps']:.2f}",
                f"x{p['ratio']:.3f} vs sam2, {p.get('decoder_calls_per_frame', float('nan')):.2f} decoder calls/frame",
                goal.get("goal", ""),
                yn[goal.get("met")],
            )
        )
    for k, w in pol.get("pathways", {}).items():
        rows.append(
            (
                "policies",
                f"  sam2long cost at {k} pathway{'s' if w['num_pathway'] != 1 else ''}",
                "",
                "",
                f"x{w['cost_vs_min']:.2f} of the fewest (limit {w['limit']:g}), x{w['cost']:.2f} of sam2",
                goals.get("pathways", {}).get("goal", "") if w["met"] is not None else "",
                yn[w["met"]],
            )
        )
    if mem := pol.get("memory"):
        (s, n), size = mem["frames"], mem["image_size"]
        for name, r in mem["runs"].items():
            a, b = r["at"]
            rows.append(
                (
                    "policies",
                    f"{name} peak RSS MB @{s} -> @{n} frames, {size} px",
                    "",
                    f"{_mb(a['peak_rss_bytes'])} -> {_mb(b['peak_rss_bytes'])}",
                    f"above model {_mb(a['video_rss_bytes'])} -> {_mb(b['video_rss_bytes'])}: x{r['growth']:.2f}; "
                    f"RSS {r.get('rss_slope_bytes_per_frame', float('nan')) / 1024:+.1f} KB/frame",
                    mem["goal"],
                    yn[r["met"]],
                )
            )
    return rows


__all__ = ["UNTRAINED", "format_table"]
