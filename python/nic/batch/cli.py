"""`python -m nic.batch` / `nic-batch`: AI-encodes folders and lists of images and videos on a
Ray cluster, with the options of `nic ai-encode`."""

import argparse
import json
import os
import sys
import time
from typing import List, NoReturn, Optional, TextIO

from .jobs import BatchError, EncodeOptions, find_jobs, split_codecs
from .runner import Runner, stderr_line

DESCRIPTION = """AI-encode images and videos on a Ray cluster (--address joins one; without it Ray
starts on this machine). Images become JPEG/WebP/PNG files with their AI data, videos H.264/HEVC
with AI data per frame; long videos are cut at key frames into segments coded in parallel and
joined without re-encoding. Outputs appear complete or not at all; an existing output counts as
finished and is skipped."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nic-batch", description=DESCRIPTION)
    p.add_argument("inputs", nargs="*", help="image or video files, or folders (searched recursively)")
    p.add_argument("-o", "--output-dir", required=True, help="folder of the outputs (a folder's files keep "
                   "their path below it)")
    p.add_argument("--from-list", metavar="FILE", help="a file naming one input per line (- for stdin)")
    group = p.add_argument_group("encoding (as nic ai-encode)")
    group.add_argument("--scale", help="auto (default), 1 (video only), 1.5 or 2")
    group.add_argument("--setting", help="NN setting ID, or auto (default)")
    group.add_argument("--codec", action="append", default=[],
                       help="images: jpeg (default), webp or png; videos: libx264 (default) or libx265; "
                            "may be given once for each kind")
    group.add_argument("--quality", type=int, help="images: JPEG/WebP quality 1-100")
    group.add_argument("--content", choices=["natural", "screen", "animation"], help="images: content type")
    group.add_argument("--refine", type=int, default=0, help="images: JPEG refinement steps (0 = off)")
    group.add_argument("--crf", type=float, help="video: constant rate factor")
    group.add_argument("--bitrate", help="video: target bit rate, FFmpeg style (800k, 2M), AI data included; "
                                         "rate control runs per segment")
    group.add_argument("--preset", help="video: encoder preset (veryfast, medium, ...)")
    group.add_argument("--model-dir", help="folder of models/settings.json (default: the package's or "
                                           "NIC_MODEL_DIR)")
    group.add_argument("--video-format", choices=["mp4", "mkv", "mov", "ts"],
                       help="container of video outputs (default: the input's when it is one of these, else mkv)")
    ray_group = p.add_argument_group("Ray")
    ray_group.add_argument("--address", help="address of a Ray cluster to join (default: start Ray here)")
    ray_group.add_argument("--num-cpus", type=int, help="CPUs of the Ray instance started here (default: all)")
    ray_group.add_argument("--task-cpus", type=int, default=1,
                           help="CPUs (and library threads) per coding task (default 1)")
    ray_group.add_argument("--segment-seconds", type=float, default=60.0,
                           help="shortest video segment, cut at the next key frame (default 60)")
    ray_group.add_argument("--retries", type=int, default=3, help="runs of a task again when its worker dies")
    out = p.add_argument_group("output")
    out.add_argument("--quiet", action="store_true", help="no line per finished file or segment")
    out.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def options_from(args: argparse.Namespace) -> EncodeOptions:
    """The encoding options of the command line (BatchError for a bad value)."""
    codecs = split_codecs(args.codec)
    scale: Optional[object] = None
    if args.scale is not None and args.scale.lower() != "auto":
        try:
            scale = {"1": 1, "1.5": 1.5, "2": 2}[args.scale]
        except KeyError:
            raise BatchError("--scale must be auto, 1, 1.5 or 2") from None
    setting = None
    if args.setting is not None and args.setting.lower() != "auto":
        if not args.setting.isdigit() or int(args.setting) <= 0:
            raise BatchError("--setting must be a setting ID or auto")
        setting = int(args.setting)
    if args.quality is not None and not 1 <= args.quality <= 100:
        raise BatchError("--quality must be 1...100")
    if args.task_cpus < 1 or args.retries < 0 or args.segment_seconds <= 0:
        raise BatchError("--task-cpus must be at least 1, --retries at least 0, --segment-seconds above 0")
    if args.bitrate is not None:
        from ..context import parse_bit_rate
        try:
            parse_bit_rate(args.bitrate)
        except ValueError as e:
            raise BatchError(f"--bitrate: {e}") from None
    return EncodeOptions(scale=scale, setting_id=setting, image_codec=codecs["image"],
                         video_encoder=codecs["video"], quality=args.quality, content=args.content,
                         refine=args.refine, crf=args.crf, bitrate=args.bitrate, preset=args.preset,
                         threads=args.task_cpus, model_dir=args.model_dir)


def read_list(path: str) -> List[str]:
    """The inputs named in a list file, one a line (blank lines and # comments skipped)."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with stream:
        return [line.strip() for line in stream if line.strip() and not line.lstrip().startswith("#")]


def start_ray(args: argparse.Namespace) -> None:
    """Joins the cluster at --address, or starts Ray here; the workers get this process's
    NIC_LIBRARY and NIC_MODEL_DIR when they are set."""
    import logging

    import ray

    env = {name: os.environ[name] for name in ("NIC_LIBRARY", "NIC_MODEL_DIR") if os.environ.get(name)}
    kwargs = {"logging_level": logging.WARNING, "log_to_driver": False,
              "runtime_env": {"env_vars": env} if env else None}
    if args.address:
        ray.init(address=args.address, **kwargs)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, **kwargs)


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    try:
        options = options_from(args)
        inputs = list(args.inputs) + (read_list(args.from_list) if args.from_list else [])
        if not inputs:
            raise BatchError("no inputs: name files or folders, or --from-list FILE")
        jobs = find_jobs(inputs, args.output_dir, options, f".{args.video_format}" if args.video_format else None)
    except (BatchError, OSError) as e:
        print(f"nic-batch: {e}", file=sys.stderr)
        return 2
    report = None if args.quiet else stderr_line
    for job in jobs:
        if os.path.exists(job.output):
            job.status = "skipped"
            if report:
                report(f"{job.input}: skipped, {job.output} exists")
    try:
        import ray  # noqa: F401
    except ImportError:
        print("nic-batch: Ray is not installed (pip install ray)", file=sys.stderr)
        return 2
    if all(job.status != "pending" for job in jobs):
        print_summary(jobs, time.monotonic() - started, args.json)
        return 0
    summary = stdout_for_summary()
    start_ray(args)
    try:
        Runner(jobs, options, cpus=args.task_cpus, retries=args.retries, segment_seconds=args.segment_seconds,
               report=report).run()
    except KeyboardInterrupt:
        print_summary(jobs, time.monotonic() - started, args.json, summary)
        print("nic-batch: interrupted; unfinished outputs removed", file=sys.stderr)
        exit_now(130, summary)
    print_summary(jobs, time.monotonic() - started, args.json, summary)
    return 1 if any(job.status == "failed" for job in jobs) else 0


def exit_now(status: int, *streams: TextIO) -> NoReturn:
    """Ends the process at once with `status`, after flushing `streams` and the standard ones,
    without Ray's shutdown: after a Ctrl-C the replies of cancelled tasks can make Ray's core
    worker abort the process while it shuts down, which would replace the status. The cluster
    releases the tasks of a driver that is gone."""
    for stream in (*streams, sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status)


def stdout_for_summary() -> TextIO:
    """The process's stdout, kept for the summary alone: file descriptor 1 then goes to stderr,
    so that what Ray prints in this process (its messages about dead workers and retries) can
    never mix into the summary a service parses."""
    sys.stdout.flush()
    kept = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return kept


def print_summary(jobs, seconds: float, as_json: bool, stdout: Optional[TextIO] = None) -> None:
    """The counts and every failure: one JSON object on `stdout` (default: sys.stdout), or lines
    on stderr."""
    counts = {status: sum(job.status == status for job in jobs) for status in ("done", "skipped", "failed")}
    if as_json:
        files = [{"input": job.input, "output": job.output, "kind": job.kind, "status": job.status,
                  **({"error": job.error} if job.error else {}), **job.details} for job in jobs]
        print(json.dumps({**counts, "seconds": round(seconds, 3), "files": files}), file=stdout or sys.stdout,
              flush=True)
        return
    print(f"nic-batch: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
          f"in {seconds:.1f} s", file=sys.stderr)
    for job in jobs:
        if job.status == "failed":
            print(f"  failed: {job.input}: {job.error}", file=sys.stderr)
