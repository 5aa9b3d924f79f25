"""The batch run on Ray: one task per image, per video plan (probe, scale, split), per video
segment and per join; the driver hands out follow-up tasks as tasks finish, reports each
finished file or segment, and leaves no unfinished file behind on failure or Ctrl-C."""

import os
import shutil
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import tasks
from .jobs import WORK_FOLDER, EncodeOptions, Job


class Runner:
    """Runs `jobs` on the Ray cluster `ray.init` joined.

    cpus            CPUs a coding task asks Ray for (the library gets as many threads)
    retries         times a task is run again when its worker or node dies
    segment_seconds shortest segment a video is cut into (at key frames)
    report          called with one line per finished file or segment (None: silent)
    """

    def __init__(self, jobs: List[Job], options: EncodeOptions, cpus: float, retries: int,
                 segment_seconds: float, report: Optional[Callable[[str], None]] = None) -> None:
        import ray  # imported here, so that the package imports without Ray installed

        self.ray = ray
        self.jobs = jobs
        self.options = options
        self.segment_seconds = segment_seconds
        self.report = report or (lambda line: None)
        common = {"max_retries": retries, "retry_exceptions": False}
        # Coding tasks spread over the nodes (Ray's default packs short tasks on the first free node).
        self.coding = {"num_cpus": cpus, "scheduling_strategy": "SPREAD", **common}
        self.light = {"num_cpus": min(cpus, 0.5), **common}     # joining
        self.pending: Dict[Any, Tuple[str, Job, Any]] = {}
        self.state: Dict[int, Dict[str, Any]] = {}
        self.finished = 0
        self.remote: Dict[Any, Any] = {}

    def _submit(self, function: Callable, resources: Dict[str, Any], step: str, job: Job, extra: Any,
                *args: Any) -> None:
        key = (function, tuple(sorted(resources.items())))
        if key not in self.remote:
            self.remote[key] = self.ray.remote(**resources)(function)
        ref = self.remote[key].remote(*args)
        self.pending[ref] = (step, job, extra)

    def run(self) -> List[Job]:
        """Runs every pending job; returns the jobs with their status, error and details."""
        todo = [job for job in self.jobs if job.status == "pending"]
        for job in todo:
            job.details["start"] = time.monotonic()
            if job.kind == "image":
                self._submit(tasks.encode_image, self.coding, "image", job, None,
                             job.input, job.output, job.work_folder, self.options)
            else:
                self._submit(tasks.plan_video, self.coding, "plan", job, None,
                             job.input, job.output, job.work_folder, self.options, self.segment_seconds)
        try:
            while self.pending:
                ready, _ = self.ray.wait(list(self.pending), num_returns=1)
                ref = ready[0]
                step, job, extra = self.pending.pop(ref)
                if job.status == "failed":
                    continue
                try:
                    result = self.ray.get(ref)
                except Exception as e:  # noqa: BLE001 - a task's failure fails its file only
                    self._fail(job, e)
                    continue
                self._advance(step, job, extra, result)
        except KeyboardInterrupt:
            self._abandon()
            raise
        return self.jobs

    def _advance(self, step: str, job: Job, extra: Any, result: Any) -> None:
        """The follow-up of a finished task."""
        if step in ("image", "whole"):
            frames = f", {result['frames']} frames" if step == "whole" else ""
            self._finish(job, {"frames": result["frames"]} if step == "whole" else {}, frames)
        elif step == "plan":
            plan: tasks.VideoPlan = result
            job.details.update(scale=plan.scale, segments=max(1, len(plan.segments)),
                               plan_seconds=round(plan.seconds, 3))
            if not plan.segments:
                self._submit(tasks.encode_video, self.coding, "whole", job, None,
                             job.input, job.output, job.work_folder, self.options, plan.scale)
                return
            self.state[id(job)] = {"plan": plan, "reports": {}}
            for i, segment in enumerate(plan.segments):
                self._submit(tasks.encode_segment, self.coding, "segment", job, i,
                             segment, tasks.coded_name(segment, job.output), self.options, plan.scale)
        elif step == "segment":
            state = self.state[id(job)]
            state["reports"][extra] = result
            plan = state["plan"]
            self.report(f"{job.input}: segment {extra + 1}/{len(plan.segments)} done, {result['frames']} frames, "
                        f"{result['seconds']:.1f} s")
            if len(state["reports"]) == len(plan.segments):
                coded = [tasks.coded_name(s, job.output) for s in plan.segments]
                frames = sum(r["frames"] for r in state["reports"].values())
                job.details["frames"] = frames
                job.details["nodes"] = sorted({r["node"] for r in state["reports"].values()})
                job.details["segment_seconds"] = [round(state["reports"][i]["seconds"], 3)
                                                  for i in range(len(plan.segments))]
                self._submit(tasks.join_video, self.light, "join", job, None,
                             plan, coded, frames, job.input, job.output, job.work_folder)
        elif step == "join":
            job.details["join_seconds"] = round(result["seconds"], 3)
            self.state.pop(id(job), None)
            self._finish(job, {}, f", {job.details['frames']} frames in {job.details['segments']} segments")

    def _finish(self, job: Job, details: Dict[str, Any], note: str) -> None:
        job.status = "done"
        job.details.update(details)
        job.details["seconds"] = round(time.monotonic() - job.details.pop("start"), 3)
        remove_work_folder(job)
        self.finished += 1
        self.report(f"[{self.finished}/{len(self.jobs)}] {job.input} -> {job.output}{note} "
                    f"({job.details['seconds']:.1f} s)")

    def _fail(self, job: Job, error: BaseException) -> None:
        """Marks the job failed, cancels its other tasks and removes its unfinished files."""
        job.status = "failed"
        job.error = describe(error)
        job.details.pop("start", None)
        for ref, (_, other, _) in list(self.pending.items()):
            if other is job:
                self.ray.cancel(ref, force=True)
                del self.pending[ref]
        self.state.pop(id(job), None)
        remove_work_folder(job)
        self.finished += 1
        self.report(f"[{self.finished}/{len(self.jobs)}] {job.input}: FAILED: {job.error}")

    def _abandon(self) -> None:
        """Ctrl-C: removes the unfinished jobs' files, cancels every task, and removes the files
        again, for a task that wrote before it was stopped. The files go first: cancelling can
        make Ray's core worker abort this process (an internal check on task replies that race
        with the cancellation), and nothing unfinished may be left behind if it does."""
        unfinished = [job for job in self.jobs if job.status == "pending"]
        for job in unfinished:
            job.status, job.error = "failed", "interrupted"
            remove_work_folder(job)
        for ref in list(self.pending):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - the task may be gone already
                pass
        self.pending.clear()
        for job in unfinished:
            remove_work_folder(job)


def remove_work_folder(job: Job) -> None:
    """Removes the job's work folder, and the hidden folder holding it once empty."""
    shutil.rmtree(job.work_folder, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(job.work_folder))
    except OSError:
        pass


def describe(error: BaseException) -> str:
    """A one-line reason from a task's exception (the original error inside Ray's wrapper)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    lines = [line for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if type(error).__name__ in text else f"{type(error).__name__}: {text}"


def stderr_line(line: str) -> None:
    print(f"nic-batch: {line}", file=sys.stderr, flush=True)


__all__ = ["Runner", "WORK_FOLDER", "describe", "remove_work_folder", "stderr_line"]
