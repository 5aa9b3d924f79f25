"""Batch AI encoding on Ray (`python -m nic.batch`, `nic-batch`): folders and lists of images
and videos with the options of `nic ai-encode`; long videos are cut at key frames, their
segments coded in parallel and joined by stream copy (docs/batch.md). Needs Ray
(`pip install ray`) and FFmpeg's command-line tools for videos."""

from .cli import main
from .jobs import BatchError, EncodeOptions, Job, find_jobs

__all__ = ["main", "BatchError", "EncodeOptions", "Job", "find_jobs"]
