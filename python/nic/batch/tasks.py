"""The work of a batch run's Ray tasks, as plain functions of paths and options: each writes
only inside its job's work folder, and a finished output appears by one rename."""

import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..context import Context
from . import media
from .jobs import EncodeOptions


@dataclass
class VideoPlan:
    """A video cut at key frames: the segment files to code and where each starts."""
    scale: float
    starts: List[media.KeyFrame]
    segments: List[str]
    probe: media.VideoProbe
    seconds: float                # probing, choosing the scale and splitting


def _context(options: EncodeOptions) -> Context:
    return Context(threads=options.threads, model_dir=options.model_dir)


def _commit(staged: str, output: str) -> None:
    """Moves a finished file from the work folder to its output name (one rename)."""
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    os.replace(staged, output)


def fresh_folder(folder: str) -> None:
    """An empty work folder (what an interrupted run left there is removed)."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)


def encode_image(input_path: str, output: str, folder: str, options: EncodeOptions) -> Dict[str, Any]:
    """AI-encodes one image file; returns its AI data and seconds."""
    start = time.monotonic()
    fresh_folder(folder)
    staged = os.path.join(folder, os.path.basename(output))
    with _context(options) as ctx:
        record = ctx.image_ai_encode(input_path, staged, **options.image_arguments())
    _commit(staged, output)
    shutil.rmtree(folder, ignore_errors=True)
    return {"aidata": record, "seconds": time.monotonic() - start}


def encode_video(input_path: str, output: str, folder: str, options: EncodeOptions,
                 scale: Optional[float] = None) -> Dict[str, Any]:
    """AI-encodes a whole video file in one task (at `scale` when given); returns its report."""
    fresh_folder(folder)
    staged = os.path.join(folder, "whole" + os.path.splitext(output)[1])
    arguments = options.video_arguments()
    if scale is not None:
        arguments["scale"] = scale
    with _context(options) as ctx:
        report = ctx.video_ai_encode(input_path, staged, **arguments)
    _commit(staged, output)
    shutil.rmtree(folder, ignore_errors=True)
    return report


def plan_video(input_path: str, output: str, folder: str, options: EncodeOptions,
               segment_seconds: float) -> VideoPlan:
    """Probes a video, chooses the scale of the whole stream (the trial encodes of `--scale
    auto` run once, on the whole file, as a single-process run does them) and, when it has
    more than one segment of `segment_seconds`, splits it at key frames into the work folder."""
    start = time.monotonic()
    fresh_folder(folder)
    probe = media.probe_video(input_path)
    starts = media.segment_starts(probe, segment_seconds)
    with _context(options) as ctx:
        scale = ctx.video_choose_scale(input_path, os.path.join(folder, "trial" + os.path.splitext(output)[1]),
                                       **options.video_arguments())
    segments: List[str] = []
    if len(starts) > 1:
        segments = media.split(input_path, probe, starts, folder, _segment_extension(input_path))
    return VideoPlan(scale, starts, segments, probe, time.monotonic() - start)


def _segment_extension(input_path: str) -> str:
    """The source's container for its segments when it is one the split writes (timestamps stay
    in the source's time base), else Matroska."""
    extension = os.path.splitext(input_path)[1].lower()
    return extension if extension in (".mp4", ".m4v", ".mov", ".mkv", ".ts") else ".mkv"


def encode_segment(segment: str, coded: str, options: EncodeOptions, scale: float) -> Dict[str, Any]:
    """AI-encodes one segment (video only) at the whole stream's scale; the coded segment starts
    with an IDR picture as every output of the library does. Returns its report."""
    arguments = options.video_arguments()
    arguments["scale"] = scale
    with _context(options) as ctx:
        report = ctx.video_ai_encode(segment, coded, **arguments)
    return {**report, "node": _node()}


def _node() -> str:
    """The Ray node this task runs on."""
    import ray

    return ray.get_runtime_context().get_node_id()


def coded_name(segment: str, output: str) -> str:
    """The coded segment's file beside its source segment, in the output's container."""
    stem = os.path.splitext(segment)[0].replace("source-", "coded-")
    return stem + os.path.splitext(output)[1]


def join_video(plan: VideoPlan, coded: List[str], frames: int, input_path: str, output: str,
               folder: str) -> Dict[str, Any]:
    """Joins the coded segments with the source's other streams into the output (by stream
    copy, through a temporary name) after checking that no frame was lost; returns seconds."""
    start = time.monotonic()
    if frames != plan.probe.packets:
        raise media.MediaError(f"{input_path}: the segments hold {frames} frames, the source "
                               f"{plan.probe.packets}: it cannot be split at its key frames "
                               "(encode it whole with a --segment-seconds longer than the video)")
    staged = os.path.join(folder, "joined" + os.path.splitext(output)[1])
    media.join(coded, plan.starts, input_path, plan.probe, staged)
    joined = media.video_packets(staged)
    if joined != frames:
        raise media.MediaError(f"{input_path}: the joined stream holds {joined} frames, the segments {frames}")
    _commit(staged, output)
    shutil.rmtree(folder, ignore_errors=True)
    return {"seconds": time.monotonic() - start}
