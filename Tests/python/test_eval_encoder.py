"""Variant names of bench/eval_encoder.py: each part maps to its `nic` option, and a name that does
not parse is refused."""

import os
import sys

import pytest

pytest.importorskip("PIL")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import eval_encoder  # noqa: E402


@pytest.mark.parametrize("name,args", [
    ("r1s0", ["--refine", "1", "--steps", "0"]),
    ("e0", ["--effort", "0"]),
    ("e0g", ["--effort", "0", "--grid"]),
    ("e0n", ["--effort", "0", "--no-grid"]),
    ("e0d8l0.05c4f2n", ["--effort", "0", "--dsq", "8", "--dsq-lambda", "0.05", "--consistency", "4",
                        "--fixed-point", "2", "--no-grid"]),
    ("r0s0x50k0.003b64", ["--refine", "0", "--steps", "0", "--substitute", "50", "--substitute-step-size", "0.003",
                          "--block", "64"]),
])
def test_variant_names_map_to_options(name, args):
    assert eval_encoder.variant_args(name) == args


@pytest.mark.parametrize("name,searching", [
    ("r1s0", False), ("e0", False), ("e0d8c4f2n", False), ("r1s0d0c0f0n", False),
    ("e1", True), ("e3", True), ("r0s100", True), ("r0s0x50", True),
])
def test_searching_variants_are_the_ones_timed_without_warm_up(name, searching):
    assert eval_encoder.searches(name) == searching


@pytest.mark.parametrize("name", ["e0gn", "x", "e0q", "r1"])
def test_other_names_are_refused(name):
    with pytest.raises(SystemExit):
        eval_encoder.variant_args(name)


def test_points_file_resumes_by_model_options_image_quality_and_threads(tmp_path):
    models = tmp_path / "models"
    (models / "neural").mkdir(parents=True)
    (models / "neural" / "codec.json").write_text('{"sha256": "aa"}')
    path = str(tmp_path / "points.jsonl")
    store = eval_encoder.PointStore(path, str(models))
    store.add(["--effort", "3"], "kodim01.png", 34, 2, {"bpp": 0.5, "psnr": 30.0, "encode_ms": 9.0})
    again = eval_encoder.PointStore(path, str(models))
    assert again.get(["--effort", "3"], "kodim01.png", 34, 2)["bpp"] == 0.5
    for other in ((["--effort", "2"], "kodim01.png", 34, 2), (["--effort", "3"], "kodim02.png", 34, 2),
                  (["--effort", "3"], "kodim01.png", 35, 2), (["--effort", "3"], "kodim01.png", 34, 1)):
        assert again.get(*other) is None
    (models / "neural" / "codec.json").write_text('{"sha256": "bb"}')     # another model
    assert eval_encoder.PointStore(path, str(models)).get(["--effort", "3"], "kodim01.png", 34, 2) is None


def test_per_image_bd_rate_compares_one_image_and_the_markdown_lists_the_worst(tmp_path):
    qs = [1, 50, 100]
    ref = {q: [(0.1 * (k + 1), 25.0 + 3 * k), (0.2 * (k + 1), 20.0 + 3 * k)] for k, q in enumerate(qs)}
    better = {q: [(0.9 * b, p) for b, p in ref[q]] for q in qs}      # 10% fewer bits on both images
    better[100][1] = (ref[100][1][0], ref[100][1][1])                 # ... except image 1's top point
    points = {"a": ref, "b": better}
    assert eval_encoder.per_image_bd_rate(points, "a", "a", qs, 0) == 0.0
    assert eval_encoder.per_image_bd_rate(points, "a", "b", qs, 0) == -10.0
    worse_one = eval_encoder.per_image_bd_rate(points, "a", "b", qs, 1)
    assert -10.0 < worse_one < 0.0
    r = {"date": "d", "command": "c", "images": ["x.png", "y.png"], "qualities": qs, "threads": 2, "reference": "a",
         "curves": {v: [{"q": q, "bpp": 1.0, "psnr": 30.0} for q in qs] for v in ("a", "b")},
         "bd_rate_percent": {"a": 0.0, "b": -10.0}, "encode_ms_median": {"a": 1.0, "b": 2.0},
         "bd_rate_percent_per_image": {"x.png": {"a": 0.0, "b": -10.0}, "y.png": {"a": 0.0, "b": worse_one}}}
    eval_encoder.write_markdown(str(tmp_path / "r.md"), r)
    text = (tmp_path / "r.md").read_text()
    assert "| y.png | " + f"{worse_one:+.2f}%" in text and f"| worst | {worse_one:+.2f}% |" in text
