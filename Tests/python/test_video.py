"""The video AI codec through the Python package (shipped models): encode, per-frame AI data,
decode; clips are written here as Y4M, no media files needed."""

import numpy as np
import pytest

import nic


def write_y4m(path, width=192, height=128, frames=8):
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C420jpeg\n" % (width, height))
        for t in range(frames):
            luma = 128 + 60 * np.sin((x + 3 * t) / 7.0) * np.cos(y / 9.0) + 30 * ((x // 16 + y // 16) % 2)
            f.write(b"FRAME\n")
            f.write(np.clip(luma, 16, 235).astype(np.uint8).tobytes())
            f.write(np.full((height // 2) * (width // 2) * 2, 128, np.uint8).tobytes())


def y4m_frames(path):
    data = open(path, "rb").read()
    return data.count(b"FRAME\n"), data.split(b"\n", 1)[0].split()


@pytest.fixture
def ctx():
    with nic.Context(threads=2) as c:
        yield c


def test_encode_lists_ai_data_per_frame_and_decodes(ctx, tmp_path):
    src, small, back = tmp_path / "src.y4m", tmp_path / "small.mp4", tmp_path / "back.y4m"
    write_y4m(src)
    report = ctx.video_ai_encode(src, small, scale=2, crf=28, preset="ultrafast")
    assert report["frames"] == 8 and (report["width"], report["height"]) == (96, 64)
    assert (report["scale_numerator"], report["scale_denominator"]) == (2, 1)
    assert report["scale_scenes"] == 0 and report["size_changes"] == 0
    frames = list(ctx.video_frames(small))
    assert len(frames) == 8
    assert [f["pts"] for f in frames] == sorted(f["pts"] for f in frames)
    # The key frame carries the AI data, the frames after it keep it.
    assert frames[0]["status"] == "present" and all(f["status"] in ("present", "absent") for f in frames)
    assert all(f["aidata"]["setting_id"] == report["setting_id"] for f in frames if f["status"] == "present")
    assert frames[0]["aidata"]["original_width"] == 192 and frames[0]["aidata"]["quality_value"] == 2800
    decoded = ctx.video_ai_decode(small, back)
    assert decoded["frames"] == 8 and decoded["ai_frames"] == 8 and decoded["width"] == 192
    assert (decoded["scale_numerator"], decoded["scale_denominator"]) == (0, 0)
    count, header = y4m_frames(back)
    assert count == 8 and b"W192" in header and b"H128" in header


def test_stream_without_ai_data_falls_back(ctx, tmp_path):
    src, back = tmp_path / "src.y4m", tmp_path / "back.y4m"
    write_y4m(src, 64, 48, 3)
    assert [f["status"] for f in ctx.video_frames(src)] == ["absent"] * 3
    report = ctx.video_ai_decode(src, back, size=(100, 70))
    assert report["frames"] == 3 and report["ai_frames"] == 0 and (report["width"], report["height"]) == (100, 70)


def test_bad_input_and_options(ctx, tmp_path):
    with pytest.raises(nic.NicError) as e:
        ctx.video_ai_decode(tmp_path / "missing.mp4", tmp_path / "x.y4m")
    assert e.value.status == nic.NicStatus.NIC_ERROR_IO
    src = tmp_path / "src.y4m"
    write_y4m(src, 64, 48, 2)
    with pytest.raises(nic.NicError):
        ctx.video_ai_encode(src, tmp_path / "x.mp4", setting_id=31337)
    with pytest.raises(ValueError):
        ctx.video_ai_encode(src, tmp_path / "x.mp4", bit_rate="2x")
    with pytest.raises(ValueError):
        ctx.video_ai_encode(src, tmp_path / "x.mp4", scale=3)


def test_bit_rates_take_ffmpeg_suffixes():
    assert nic.parse_bit_rate("800k") == 800_000
    assert nic.parse_bit_rate("1.5M") == 1_500_000
    assert nic.parse_bit_rate(250_000) == 250_000
    for bad in ("", "M", "12", "-1k", "1e9"):
        with pytest.raises(ValueError):
            nic.parse_bit_rate(bad)


def test_progress_and_cancellation(ctx, tmp_path):
    src, small, back = tmp_path / "src.y4m", tmp_path / "small.mkv", tmp_path / "back.y4m"
    write_y4m(src, frames=10)
    seen = []
    ctx.video_ai_encode(src, small, scale=2, crf=28, preset="ultrafast",
                        progress=lambda done, expected, seconds: seen.append((done, expected)))
    assert [d for d, _ in seen] == list(range(11)) and seen[-1][1] == 10
    back.write_bytes(b"earlier")
    with pytest.raises(nic.NicError) as e:
        ctx.video_ai_decode(small, back, progress=lambda done, expected, seconds: done < 4)
    assert e.value.status == nic.NIC_ERROR_CANCELLED
    assert back.read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.y4m", "small.mkv", "src.y4m"]
    # The callback is the call's own: the next job runs without it.
    assert ctx.video_ai_decode(small, back)["frames"] == 10


def test_tqdm_progress_drives_a_bar(ctx, tmp_path):
    class Bar:  # what nic.tqdm_progress uses of a tqdm bar
        total, n, refreshes = None, 0, 0

        def refresh(self):
            self.refreshes += 1
    src, small = tmp_path / "src.y4m", tmp_path / "small.mkv"
    write_y4m(src, frames=6)
    bar = Bar()
    ctx.video_ai_encode(src, small, scale=2, crf=28, preset="ultrafast", progress=nic.tqdm_progress(bar))
    assert (bar.total, bar.n, bar.refreshes) == (6, 6, 7)


def test_choose_scale_is_the_encodes_scale(ctx, tmp_path):
    src = tmp_path / "src.y4m"
    write_y4m(src, 192, 128, 14)
    assert ctx.video_choose_scale(src, tmp_path / "out.mp4", scale=1.5) == 1.5
    assert ctx.video_choose_scale(src, tmp_path / "out.mp4", setting_id=8) == 2
    chosen = ctx.video_choose_scale(src, tmp_path / "out.mp4", crf=30, preset="ultrafast")
    assert chosen in (1, 1.5, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.y4m"]   # the trial folder is gone
    report = ctx.video_ai_encode(src, tmp_path / "out.mp4", crf=30, preset="ultrafast")
    assert report["width"] == {1: 192, 1.5: 128, 2: 96}[chosen]
    with pytest.raises(nic.NicError) as e:
        ctx.video_choose_scale(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    assert e.value.status == nic.NicStatus.NIC_ERROR_IO


def test_image_ai_encode_writes_the_file_with_its_ai_data(ctx, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    y, x = np.mgrid[0:120, 0:160]
    pixels = np.stack([(x * 3) % 256, (y * 5) % 256, ((x + y) * 2) % 256], axis=2).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    record = ctx.image_ai_encode(tmp_path / "in.png", tmp_path / "out.jpg", scale=2, quality=80)
    assert (record["original_width"], record["downscaled_width"], record["scale_numerator"]) == (160, 80, 2)
    assert record["quality_value"] == 8000
    with Image.open(tmp_path / "out.jpg") as small:
        assert small.format == "JPEG" and small.size == (80, 60)
    webp = ctx.image_ai_encode(tmp_path / "in.png", tmp_path / "out.webp", scale=1.5, content="screen")
    assert webp["content_type"] == 2 and webp["downscaled_height"] == 80
    for bad, status in (({"codec": "gif"}, nic.NicStatus.NIC_ERROR_INVALID_ARGUMENT),
                        ({"quality": 101}, nic.NicStatus.NIC_ERROR_INVALID_ARGUMENT)):
        with pytest.raises(nic.NicError) as e:
            ctx.image_ai_encode(tmp_path / "in.png", tmp_path / "bad.jpg", **bad)
        assert e.value.status == status
    with pytest.raises(ValueError):
        ctx.image_ai_encode(tmp_path / "in.png", tmp_path / "bad.jpg", content="cartoon")
    with pytest.raises(nic.NicError):
        ctx.image_ai_encode(tmp_path / "missing.png", tmp_path / "bad.jpg")
    assert not (tmp_path / "bad.jpg").exists()
