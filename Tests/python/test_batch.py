"""nic.batch on a Ray cluster of two nodes started on this machine: a folder of two images and a
video cut into segments; the joined video against the single-process encode (frames, pts, AI
data, audio and subtitles); a rerun skips; a broken file fails alone; a killed worker's task runs
again; Ctrl-C leaves nothing unfinished; bad usage."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import nic

ray = pytest.importorskip("ray")
if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
    pytest.skip("FFmpeg's command-line tools are not installed", allow_module_level=True)

OPTIONS = ["--crf", "30", "--preset", "ultrafast"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_command():
    beside = os.path.join(os.path.dirname(sys.executable), "ray")
    return [beside] if os.path.exists(beside) else [shutil.which("ray") or "ray"]


def ray_env():
    """The environment of the test cluster and its driver: no usage reports, no token (the
    cluster listens on 127.0.0.1 only)."""
    return dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")


def stop(process):
    """Stops a `ray start --block` node: its process group, which it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node and a second node, one CPU each, each in its own process group and stopped
    afterwards (`ray stop` would stop every Ray node of the machine)."""
    temp = tmp_path_factory.mktemp("ray")
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1", "--block"]
    nodes = []
    try:
        for role in (["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"],
                     [f"--address={address}"]):
            log = open(temp / f"node{len(nodes)}.log", "w")
            nodes.append(subprocess.Popen(ray_command() + ["start", *role, *common], stdout=log,
                                          stderr=subprocess.STDOUT, env=ray_env(), start_new_session=True))
            log.close()
            wait_for_nodes(address, len(nodes), nodes)
        yield address
    finally:
        for process in reversed(nodes):
            stop(process)


def wait_for_nodes(address, count, processes, timeout=120):
    """Waits until the cluster at `address` has `count` live nodes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a Ray node exited while starting")
        status = subprocess.run(ray_command() + ["status", f"--address={address}"], capture_output=True,
                                text=True, env=ray_env(), timeout=60)
        active = status.stdout.split("Pending:")[0] if status.returncode == 0 else ""
        if active.count("node_") >= count:
            return
        time.sleep(1)
    raise RuntimeError(f"the Ray cluster at {address} did not reach {count} nodes in {timeout} s")


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def probe(path, stream, entries):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", entries,
                          "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.split()


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A 4-second clip (key frame every second, sine audio, SubRip subtitles) and two images."""
    folder = tmp_path_factory.mktemp("sources")
    (folder / "subtitles.srt").write_text("1\n00:00:00,500 --> 00:00:01,500\none\n\n"
                                          "2\n00:00:02,200 --> 00:00:03,400\ntwo\n")
    media = folder / "in"
    (media / "stills").mkdir(parents=True)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=256x144:rate=25:duration=4", "-f", "lavfi", "-i",
           "sine=frequency=440:duration=4", "-i", str(folder / "subtitles.srt"), "-map", "0", "-map", "1", "-map", "2",
           "-c:v", "libx264", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-c:s", "srt", str(media / "clip.mkv"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", str(media / "stills" / "a.png"))
    ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=120x96", "-frames:v", "1", str(media / "b.jpg"))
    return media


def batch(*args, timeout=300):
    env = ray_env()
    return subprocess.run([sys.executable, "-m", "nic.batch", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_folder_on_two_nodes_equals_the_single_process_run(cluster, sources, tmp_path):
    out = tmp_path / "out"
    run = batch(sources, "-o", out, "--address", cluster, "--segment-seconds", "1", "--json", *OPTIONS)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    files = {os.path.relpath(f["output"], out): f for f in summary["files"]}
    assert sorted(files) == ["b.jpg", "clip.mkv", "stills/a.jpg"]
    assert sorted(os.listdir(out)) == ["b.jpg", "clip.mkv", "stills"]          # no work folder left
    video = files["clip.mkv"]
    assert video["segments"] == 4 and video["frames"] == 100
    assert len(video["nodes"]) == 2, video                                     # both nodes coded segments
    assert run.stderr.count("segment ") == 4                                   # one line per segment

    single = tmp_path / "single.mkv"
    with nic.Context(threads=2) as ctx:
        report = ctx.video_ai_encode(sources / "clip.mkv", single, crf=30, preset="ultrafast")
        joined = list(ctx.video_frames(out / "clip.mkv"))
        reference = list(ctx.video_frames(single))
        assert report["width"] == {1: 256, 1.5: 170, 2: 128}[video["scale"]]
        assert probe(out / "clip.mkv", "v:0", "stream=width,height") == probe(single, "v:0", "stream=width,height")
        assert len(joined) == len(reference) == 100
        assert [f["pts"] for f in joined] == [f["pts"] for f in reference]
        # AI data on every key frame (each segment starts with one); the frames after keep it.
        assert joined[0]["status"] == "present" and all(f["status"] in ("present", "absent") for f in joined)
        assert {f["aidata"]["original_width"] for f in joined if f["status"] == "present"} == {256}
        for image in ("b.jpg", "stills/a.jpg"):
            with open(out / image, "rb") as f:
                assert f.read(2) == b"\xff\xd8"
    # audio and subtitles: the same packets at the same times; a key frame at every segment start
    for stream in ("a", "s"):
        assert probe(out / "clip.mkv", stream, "packet=pts,size") == probe(single, stream, "packet=pts,size")
        assert probe(out / "clip.mkv", stream, "packet=pts,size")
    keys = [line.split(",")[0] for line in probe(out / "clip.mkv", "v:0", "packet=pts,flags") if ",K" in line]
    starts = [line.split(",")[0] for line in probe(sources / "clip.mkv", "v:0", "packet=pts,flags") if ",K" in line]
    assert sorted(keys, key=int) == sorted(starts, key=int)

    # a rerun skips what is there
    stamp = os.stat(out / "clip.mkv").st_mtime_ns
    again = batch(sources, "-o", out, "--address", cluster, "--json", *OPTIONS)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped"] == 3
    assert os.stat(out / "clip.mkv").st_mtime_ns == stamp


def test_a_broken_file_fails_alone(cluster, sources, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(3000))
    listing = tmp_path / "list.txt"
    listing.write_text(f"{broken}\n# a comment\n{sources / 'b.jpg'}\n")
    out = tmp_path / "out"
    run = batch("--from-list", listing, "-o", out, "--address", cluster, "--codec", "webp", *OPTIONS)
    assert run.returncode == 1
    assert "1 done, 0 skipped, 1 failed" in run.stderr and f"failed: {broken}" in run.stderr, run.stderr
    assert sorted(os.listdir(out)) == ["b.webp"]


def test_bad_usage_is_reported_before_anything_runs(tmp_path):
    run = batch(tmp_path / "missing.mp4", "-o", tmp_path / "out")
    assert run.returncode == 2 and "no such file or folder" in run.stderr
    (tmp_path / "notes.txt").write_text("x")
    run = batch(tmp_path / "notes.txt", "-o", tmp_path / "out")
    assert run.returncode == 2 and "not an image or video" in run.stderr
    run = batch(tmp_path, "-o", tmp_path / "out", "--codec", "gif")
    assert run.returncode == 2 and "unknown codec" in run.stderr
    assert not (tmp_path / "out").exists()


def running_tasks(*names):
    """PIDs of the Ray workers now running a task of one of these functions: a worker names
    itself after its task ("ray::encode_segment") in its process title."""
    titles = tuple(f"ray::{name}\0".encode() for name in names)
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read(64).startswith(titles):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def start_batch(*args):
    """The batch run as a child that takes Ctrl-C (SIGINT at its default even where this test runs
    in the background of a shell, which ignores it there)."""
    return subprocess.Popen([sys.executable, "-m", "nic.batch", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ray_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_task(process, *names, timeout=240):
    """The PID of a worker running one of `names`, waiting for one while the batch runs."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        pids = running_tasks(*names)
        if pids:
            return pids[0]
        time.sleep(0.02)
    return None


def test_a_killed_worker_is_retried(cluster, sources, tmp_path):
    out = tmp_path / "out"
    process = start_batch(sources / "clip.mkv", "-o", out, "--address", cluster, "--segment-seconds", "1",
                          "--json", *OPTIONS)
    victim = wait_for_task(process, "plan_video", "encode_segment")
    assert victim is not None, "no video task was seen running"
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)                                # Ray's messages do not reach stdout
    assert (summary["done"], summary["failed"]) == (1, 0)
    assert summary["files"][0]["frames"] == 100
    assert sorted(os.listdir(out)) == ["clip.mkv"]
    with nic.Context(threads=1) as ctx:
        assert len(list(ctx.video_frames(out / "clip.mkv"))) == 100


def test_ctrl_c_removes_unfinished_outputs(cluster, sources, tmp_path):
    out = tmp_path / "out"
    process = start_batch(sources / "clip.mkv", "-o", out, "--address", cluster, "--segment-seconds", "1",
                          *OPTIONS)
    assert wait_for_task(process, "plan_video", "encode_segment") is not None, "no video task was seen running"
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted; unfinished outputs removed" in stderr
    assert time.monotonic() - started < 30
    assert not out.exists() or os.listdir(out) == [], os.listdir(out)    # no work folder, no partial video
