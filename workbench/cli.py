"""The ``workbench`` command line: checkpoints, evaluation, benchmark runs and reports.

The application layer: the top of the package, imported by nothing in it (the console script
``workbench`` and ``python -m workbench.cli`` run it). Besides :mod:`workbench.widgets` itself,
it is the only module allowed to import :mod:`workbench.widgets` -- for the widget parts of
``workbench bench`` (:mod:`workbench.widgets.bench`, imported when that command runs), which it
plugs into the benchmark core (:mod:`workbench.bench`; core and widgets do not import each other).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import WorkbenchError


def _parse_value(text: str):
    """Notebook parameter values: JSON when it parses (numbers, true/false/null, lists), else text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _cmd_checkpoints(args) -> int:
    from .backends import registry
    from .config import checkpoint_dir

    if args.action == "list":
        rows = registry.checkpoint_table(args.dir, backend=None)  # every registered family
        width = max(len(r["name"]) for r in rows)
        print(f"checkpoint directory: {args.dir or checkpoint_dir()}")
        for r in rows:
            state = "present" if r["present"] else "missing"
            print(f"  {r['backend']:<5} {r['name']:<{width}}  {state:<8} {r['file']}  {r.get('url', '')}")
        return 0
    path = registry.download_checkpoint(args.name, args.dir)
    print(f"downloaded {args.name} to {path}")
    return 0


def _cmd_eval(args) -> int:
    from .metrics.vos_eval import SAVEvaluation
    from .runners.vos_eval import evaluate_vos_cli

    ev = evaluate_vos_cli(args.gt_root, args.results, args.out, layout=args.layout)
    per_object = isinstance(ev, SAVEvaluation)
    if per_object:
        print("per-object (SA-V) layout, scored as sav_evaluator.py (percent)")
    for k, v in ev.global_.items():
        print(f"{k:>10}: {v:.6f}")
    other = "per_object_results.csv" if per_object else "per_sequence_results.csv"
    print(f"wrote {Path(args.out) / 'global_results.csv'} and {other}")
    return 0


def _cmd_report(args) -> int:
    from .runners.report import execute_notebook, execution_parameters, run_suite, summary_table

    if args.notebook or args.resume:
        params = {k: _parse_value(v) for k, v in (args.param or [])}
        if args.smoke:
            params["smoke"] = True
        params.update(execution_parameters(args.executor, args.num_workers))
        run_dir = execute_notebook(
            args.notebook,
            params,
            run_id=args.run_id,
            reports_root=args.reports_root,
            html=not args.no_html,
            resume=args.resume,
        )
        dirs, table = [run_dir], summary_table([run_dir])
    else:
        dirs, table = run_suite(
            args.suite,
            smoke=args.smoke,
            reports_root=args.reports_root,
            html=not args.no_html,
            executor=args.executor,
            num_workers=args.num_workers,
        )
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\nSummary\n" + table.round(4).to_string(index=False))
    print("\nReports:")
    for d in dirs:
        htmls = sorted(Path(d).glob("*.html"))
        print(f"  {htmls[0] if htmls else d}")
    return 0


def _cmd_doctor(args) -> int:
    from .doctor import as_json, format_report, run_checks

    checks = run_checks()
    print(as_json(checks) if args.json else format_report(checks))
    return 1 if any(c.ok is False for c in checks) else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="SAM2 Workbench: SAM 2 research tools for Jupyter.")
    sub = p.add_subparsers(dest="command", required=True)

    ck = sub.add_parser("checkpoints", help="list or download SAM 2 checkpoints")
    ck_sub = ck.add_subparsers(dest="action", required=True)
    ls = ck_sub.add_parser("list", help="official checkpoints and whether each is present")
    ls.add_argument("--dir", default=None, help="checkpoint folder (default $SAM2_CHECKPOINT_DIR)")
    dl = ck_sub.add_parser("download", help="download an official checkpoint (needs internet)")
    dl.add_argument("name", help="registry name, e.g. sam2.1_hiera_tiny")
    dl.add_argument("--dir", default=None, help="checkpoint folder (default $SAM2_CHECKPOINT_DIR)")
    from .backends.verify import add_verify_command

    add_verify_command(ck_sub)
    ck.set_defaults(func=_cmd_checkpoints)

    ev = sub.add_parser("eval", help="evaluate results folders")
    ev_sub = ev.add_subparsers(dest="task", required=True)
    vos = ev_sub.add_parser(
        "vos",
        help="J/F of a results folder: DAVIS layout (davis2017-evaluation compatible) or "
        "per-object SA-V layout (sav_evaluator.py compatible)",
    )
    vos.add_argument("--gt-root", required=True, help="DAVIS root (Annotations/[480p/]<seq>/*.png)")
    vos.add_argument("--results", required=True, help="results folder <seq>/%%05d.png (palette PNGs)")
    vos.add_argument(
        "--out",
        required=True,
        help="folder for global_results.csv and per_sequence_results.csv (per-object layout: per_object_results.csv)",
    )
    vos.add_argument(
        "--layout",
        choices=["auto", "davis", "per-object"],
        default="auto",
        help="results layout: davis (<seq>/%%05d.png id maps, davis2017-evaluation), per-object "
        "(<seq>/<obj:03d>/%%05d.png, scored as SAM 2's sav_evaluator.py), or auto (detected)",
    )
    ev.set_defaults(func=_cmd_eval)

    rp = sub.add_parser("report", help="run benchmark notebooks with papermill and export HTML reports")
    rp.add_argument("--suite", default="demo", help="suite to run (default: demo)")
    rp.add_argument("--notebook", default=None, help="run one notebook instead: vos, image, or a notebook name")
    rp.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="notebook parameter (with --notebook); VALUE is JSON when it parses",
    )
    rp.add_argument("--smoke", action="store_true", help="tiny subsets, for a quick check")
    rp.add_argument("--run-id", default=None, help="run folder name (with --notebook)")
    rp.add_argument("--reports-root", default=None, help="where run folders go (default ./reports)")
    rp.add_argument("--no-html", action="store_true", help="skip the HTML export")
    rp.add_argument(
        "--executor",
        choices=["local", "ray"],
        default=None,
        help="where benchmark items run: in process (default) or on Ray workers",
    )
    rp.add_argument("--num-workers", type=int, default=None, help="Ray workers with --executor ray (default 2)")
    rp.add_argument(
        "--resume",
        default=None,
        metavar="RUN_ID",
        help="continue an interrupted run; notebook and settings come from its run card",
    )
    rp.set_defaults(func=_cmd_report)

    dr = sub.add_parser("doctor", help="what this machine has: Python, torch/GPU, checkpoints, data, Jupyter, Ray")
    dr.add_argument("--json", action="store_true", help="print the checks as JSON")
    dr.set_defaults(func=_cmd_doctor)

    from .bench import add_bench_command

    add_bench_command(sub, bench_sections)
    return p


def bench_sections() -> dict:
    """The sections of ``workbench bench`` that need the widgets, as overrides for
    :func:`workbench.bench.run_bench`: ``click`` timing the widget's overlay encoder and
    ``widget`` clicking through a PromptCanvas (:mod:`workbench.widgets.bench`). When the
    widgets cannot be imported (no ipywidgets / ipycanvas), the click section keeps its numpy
    overlay and the widget section says why it is not available."""
    from functools import partial

    from .bench import bench_click, bench_widget, unavailable

    try:  # the widget layer is only read here, to time it
        from .widgets.bench import canvas_click_timings, overlay_encoder
    except Exception as exc:  # any import problem means "not measurable here"
        return {"widget": unavailable(f"workbench.widgets.canvas.prompt_canvas is not importable: {exc!r}")}
    return {
        "click": partial(bench_click, overlay=overlay_encoder()),
        "widget": partial(bench_widget, timings=canvas_click_timings),
    }


def bench_main(argv: list[str] | None = None) -> int:
    """``workbench bench ARGS`` (the scripts in ``benchmarks/`` call this); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return main(argv if argv[:1] == ["bench"] else ["bench", *argv])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as exc:
        sys.stderr.write(f"workbench: error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
