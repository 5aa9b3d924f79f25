"""FFmpeg's command-line tools for the batch encoder: a video's key frames, splitting it at key
frames and joining coded segments with the source's other streams, all by stream copy."""

import json
import os
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Sequence

#: Seconds an ffprobe or ffmpeg stream copy may take before it counts as hung.
TOOL_TIMEOUT = 3600


class MediaError(RuntimeError):
    """ffprobe or ffmpeg failed, or a file is not what the batch encoder can split."""


def _run(command: Sequence[str]) -> str:
    """Runs an FFmpeg tool; its stdout, or MediaError with its stderr."""
    try:
        done = subprocess.run(list(command), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT)
    except FileNotFoundError as e:
        raise MediaError(f"{command[0]} is not installed (the batch encoder splits and joins videos with "
                         "FFmpeg's command-line tools)") from e
    except subprocess.TimeoutExpired as e:
        raise MediaError(f"{command[0]} took more than {TOOL_TIMEOUT} s") from e
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise MediaError(f"{command[0]} failed: {message[-1] if message else f'exit status {done.returncode}'}")
    return done.stdout


@dataclass(frozen=True)
class KeyFrame:
    """A key frame of the video stream: its packet's index (decode order) and pts in seconds."""
    index: int
    time: Fraction


@dataclass(frozen=True)
class VideoProbe:
    """What splitting a file needs to know: its main video stream, packets and key frames."""
    stream_index: int
    packets: int
    key_frames: List[KeyFrame]


def probe_video(path: str) -> VideoProbe:
    """The main video stream of `path` (the first video stream that is not an attached
    picture), its packet count and its key frames."""
    info = json.loads(_run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=index,codec_type,time_base:stream_disposition=attached_pic",
                            "-of", "json", path]))
    video = [s for s in info.get("streams", []) if s.get("codec_type") == "video"
             and not s.get("disposition", {}).get("attached_pic")]
    if not video:
        raise MediaError(f"{path}: no video stream")
    index = int(video[0]["index"])
    time_base = Fraction(video[0]["time_base"])
    lines = _run(["ffprobe", "-v", "error", "-select_streams", str(index), "-show_entries",
                  "packet=pts,flags", "-of", "csv=p=0", path]).split()
    key_frames = []
    for i, line in enumerate(lines):
        pts, _, flags = line.partition(",")
        if flags.startswith("K") and pts.lstrip("-").isdigit():
            key_frames.append(KeyFrame(i, int(pts) * time_base))
    return VideoProbe(index, len(lines), key_frames)


def segment_starts(probe: VideoProbe, seconds: float) -> List[KeyFrame]:
    """The key frames that start segments of at least `seconds` (the last may be shorter):
    the first key frame, then each key frame `seconds` or more after the previous start."""
    if not probe.key_frames:
        return []
    starts = [probe.key_frames[0]]
    for key in probe.key_frames[1:]:
        if key.time - starts[-1].time >= Fraction(seconds):
            starts.append(key)
    return starts


def split(path: str, probe: VideoProbe, starts: List[KeyFrame], folder: str, extension: str) -> List[str]:
    """Copies the main video stream of `path` into one file per segment (in `folder`, named
    source-00000<extension>, ...) cut before the packets of `starts[1:]`; no re-encoding."""
    pattern = os.path.join(folder, f"source-%05d{extension}")
    cuts = ",".join(str(k.index) for k in starts[1:])
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", path, "-map", f"0:{probe.stream_index}",
               "-c", "copy", "-f", "segment", "-segment_format", muxer_for(extension), "-reset_timestamps", "1"]
    if cuts:
        command += ["-segment_frames", cuts]
    _run(command + [pattern])
    files = [pattern % i for i in range(len(starts))]
    missing = [f for f in files if not os.path.exists(f)]
    if missing or os.path.exists(pattern % len(starts)):
        raise MediaError(f"{path}: splitting at {len(starts)} key frames gave another number of segments")
    return files


def join(segments: List[str], starts: List[KeyFrame], source: str, probe: VideoProbe, output: str) -> None:
    """Concatenates the coded `segments` (video only, each starting at its key frame of
    `starts`) by stream copy into `output`, with every other stream of `source` copied: each
    segment is placed at its key frame's time, so the frames keep the source's timestamps."""
    folder = os.path.dirname(os.path.abspath(segments[0]))
    listing = ["ffconcat version 1.0"]
    for i, segment in enumerate(segments):
        listing.append(f"file '{os.path.basename(segment)}'")
        if i + 1 < len(segments):
            listing.append(f"duration {_decimal(starts[i + 1].time - starts[i].time)}")
    list_path = os.path.join(folder, "segments.ffconcat")
    with open(list_path, "w", encoding="utf-8") as f:
        f.write("\n".join(listing) + "\n")
    _run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-copyts", "-itsoffset", _decimal(starts[0].time),
          "-f", "concat", "-safe", "0", "-i", list_path, "-i", source,
          "-map", "0:0", "-map", "1", "-map", f"-1:{probe.stream_index}", "-map_metadata", "1",
          "-c", "copy", output])


def video_packets(path: str) -> int:
    """Packets of the first video stream of `path` (one per frame for H.264/HEVC)."""
    text = _run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                 "stream=nb_read_packets", "-of", "csv=p=0", path]).strip()
    return int(text.split(",")[0]) if text else 0


def muxer_for(extension: str) -> str:
    """FFmpeg's muxer for a file extension of the batch encoder's outputs and segments."""
    muxers = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".ts": "mpegts"}
    try:
        return muxers[extension.lower()]
    except KeyError:
        raise MediaError(f"no muxer for {extension!r}: use one of {', '.join(muxers)}") from None


def _decimal(value: Fraction, places: int = 9) -> str:
    """`value` seconds as a decimal FFmpeg reads (rounded to nanoseconds)."""
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{part:0{places}d}"
