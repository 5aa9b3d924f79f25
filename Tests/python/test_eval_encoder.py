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
