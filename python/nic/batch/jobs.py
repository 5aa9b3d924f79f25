"""What a batch run does: the encoding options (those of `nic ai-encode`), the files found in
the inputs, each one's output path and work folder."""

import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Union

#: Extensions the batch encoder takes as images and as videos (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".ts", ".avi", ".webm", ".mpg", ".mpeg", ".y4m")
#: Video containers kept for the output (others become .mkv) and the image codecs' extensions.
VIDEO_OUTPUT_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".ts")
IMAGE_CODECS = {"jpeg": ".jpg", "jpg": ".jpg", "webp": ".webp", "png": ".png"}
VIDEO_ENCODERS = {"libx264": "libx264", "h264": "libx264", "x264": "libx264", "avc": "libx264",
                  "libx265": "libx265", "hevc": "libx265", "h265": "libx265", "x265": "libx265"}
#: The hidden folder beside the outputs that holds unfinished work (removed when done).
WORK_FOLDER = ".nic-batch"


class BatchError(ValueError):
    """Inputs or options the batch encoder cannot run with (reported before anything starts)."""


@dataclass(frozen=True)
class EncodeOptions:
    """The options of `nic ai-encode` for images and videos alike."""
    scale: Optional[Union[float, str]] = None     # "auto"/None, 1 (video only), 1.5 or 2
    setting_id: Optional[int] = None
    image_codec: Optional[str] = None             # jpeg, webp or png (default jpeg)
    video_encoder: Optional[str] = None           # libx264 (default) or libx265
    quality: Optional[int] = None                 # images: JPEG/WebP quality
    content: Optional[str] = None                 # images: natural, screen or animation
    refine: int = 0                               # images: JPEG refinement steps
    crf: Optional[float] = None                   # video
    bitrate: Optional[str] = None                 # video, FFmpeg style ("800k")
    preset: Optional[str] = None                  # video
    threads: int = 1                              # library threads per task
    model_dir: Optional[str] = None

    def video_arguments(self) -> Dict[str, object]:
        """Keyword arguments of Context.video_ai_encode / video_choose_scale."""
        return {"setting_id": self.setting_id, "scale": self.scale, "encoder": self.video_encoder, "crf": self.crf,
                "bit_rate": self.bitrate, "preset": self.preset}

    def image_arguments(self) -> Dict[str, object]:
        """Keyword arguments of Context.image_ai_encode."""
        return {"setting_id": self.setting_id, "scale": self.scale, "codec": self.image_codec,
                "quality": self.quality, "content": self.content, "refine_steps": self.refine}

    @property
    def image_extension(self) -> str:
        return IMAGE_CODECS[self.image_codec or "jpeg"]


def split_codecs(codecs: Iterable[str]) -> Dict[str, Optional[str]]:
    """`--codec` values sorted by kind: {"image": jpeg/webp/png, "video": libx264/libx265}."""
    chosen: Dict[str, Optional[str]] = {"image": None, "video": None}
    for codec in codecs:
        name = codec.lower()
        kind, value = (("image", "jpeg" if name == "jpg" else name) if name in IMAGE_CODECS
                       else ("video", VIDEO_ENCODERS.get(name)))
        if value is None:
            raise BatchError(f"unknown codec {codec!r}: images take jpeg, webp or png, videos libx264 or libx265")
        if chosen[kind] not in (None, value):
            raise BatchError(f"two {kind} codecs given: {chosen[kind]} and {value}")
        chosen[kind] = value
    return chosen


@dataclass
class Job:
    """One input file and where its AI-encoded copy goes."""
    input: str
    output: str
    kind: str                      # "image" or "video"
    status: str = "pending"        # then "done", "skipped" or "failed"
    error: Optional[str] = None
    details: Dict[str, object] = field(default_factory=dict)

    @property
    def work_folder(self) -> str:
        """The job's own folder for unfinished files, beside its output."""
        head, name = os.path.split(self.output)
        return os.path.join(head, WORK_FOLDER, name + ".work")

    @property
    def name(self) -> str:
        return self.input


def kind_of(path: str) -> Optional[str]:
    """"image", "video" or None, by the file's extension."""
    extension = os.path.splitext(path)[1].lower()
    return "image" if extension in IMAGE_EXTENSIONS else "video" if extension in VIDEO_EXTENSIONS else None


def find_jobs(inputs: List[str], output_dir: str, options: EncodeOptions,
              video_extension: Optional[str] = None) -> List[Job]:
    """The jobs for `inputs` (files, or folders searched recursively for images and videos;
    a folder's files keep their path below it in `output_dir`). A named file of an unknown
    kind, a missing input or two inputs with one output are BatchErrors."""
    jobs: List[Job] = []
    for item in inputs:
        if os.path.isdir(item):
            for root, folders, files in os.walk(item):
                folders[:] = sorted(f for f in folders if not f.startswith("."))
                for name in sorted(files):
                    path = os.path.join(root, name)
                    if kind_of(path) and not name.startswith("."):
                        jobs.append(_job(path, os.path.relpath(path, item), output_dir, options, video_extension))
        elif os.path.isfile(item):
            if kind_of(item) is None:
                raise BatchError(f"{item}: not an image or video by its extension "
                                 f"({', '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)})")
            jobs.append(_job(item, os.path.basename(item), output_dir, options, video_extension))
        else:
            raise BatchError(f"{item}: no such file or folder")
    seen: Dict[str, str] = {}
    for job in jobs:
        key = os.path.normcase(os.path.abspath(job.output))
        if key in seen:
            raise BatchError(f"{seen[key]} and {job.input} would both be written to {job.output}")
        if os.path.abspath(job.input) == os.path.abspath(job.output):
            raise BatchError(f"{job.input}: the output would replace the input; choose another output folder")
        seen[key] = job.input
    return jobs


def _job(path: str, relative: str, output_dir: str, options: EncodeOptions, video_extension: Optional[str]) -> Job:
    kind = kind_of(path)
    stem, extension = os.path.splitext(relative)
    if kind == "image":
        out_extension = options.image_extension
    else:
        out_extension = video_extension or (extension.lower() if extension.lower() in VIDEO_OUTPUT_EXTENSIONS
                                            else ".mkv")
    return Job(input=path, output=os.path.join(output_dir, stem + out_extension), kind=kind or "")
