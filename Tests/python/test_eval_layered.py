"""bench/eval_layered.py: the summary compares the right rates and PSNRs, and the points file
resumes only for the same models and point."""

import json
import os
import sys

import pytest

pytest.importorskip("PIL")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import eval_layered  # noqa: E402


def rows_for(image, pixels, qualities, crfs, layered_factor, simulcast_factor):
    """Synthetic rows: single-layer bytes grow with quality; layered and simulcast are multiples of them
    at the single layer's PSNR; x265 simulcast twice the single layer's bytes."""
    rows = []
    for k, q in enumerate(qualities):
        single = {"bytes": 1000 * (k + 1), "psnr": 25.0 + 3 * k, "decode_ms": 100.0 + k, "encode_ms": 500.0}
        lay = {"bytes": int(layered_factor * single["bytes"]), "psnr": single["psnr"], "encode_ms": 900.0,
               "layers": [{"width": 8, "height": 8, "bytes": 1, "decode_ms": 50.0},
                          {"width": 16, "height": 16, "bytes": 1, "decode_ms": 150.0 + k}]}
        rows.append({"image": image, "config": "x2", "q": q, "pixels": pixels, "layered": lay, "single": single,
                     "simulcast_bytes": int(simulcast_factor * single["bytes"])})
    for k, c in enumerate(crfs):
        rows.append({"image": image, "config": "x2", "crf": c, "pixels": pixels,
                     "x265_simulcast_bytes": 2000 * (k + 1), "psnr": 25.0 + 3 * k})
    return rows


def test_summary_bd_rates_against_each_reference_and_decode_times(tmp_path):
    qs, crfs = [1, 50, 100], [40, 32, 24]
    rows = rows_for("a.png", 256, qs, crfs, 1.1, 1.25) + rows_for("b.png", 256, qs, crfs, 1.1, 1.25)
    r = eval_layered.summarise(rows, ["d/a.png", "d/b.png"], [[2.0]], qs, crfs, [0, 1])
    s = r["configs"]["x2"]
    assert s["layers"] == 2
    assert s["bd_rate_percent"]["single"] == 10.0                     # 1.1 x the single layer's bits
    assert s["bd_rate_percent"]["simulcast"] == round((1.1 / 1.25 - 1) * 100, 2)
    assert s["bd_rate_percent"]["x265_simulcast"] == -45.0            # 1.1 against 2.0
    assert s["bd_rate_percent_per_image"]["b.png"]["single"] == 10.0
    assert s["decode_ms_median"] == {"layers": [50.0, 151.0], "single": 101.0}
    r.update({"date": "d", "command": "c", "threads": 2, "models_sha256": {"base": "0" * 64, "residual": "1" * 64}})
    eval_layered.write_markdown(str(tmp_path / "r.md"), r)
    text = (tmp_path / "r.md").read_text()
    assert "| x2 | -12.00% | +10.00% | -45.00% |" in text and "| x2 | 50 / 151 | 101 |" in text


def test_points_resume_for_the_same_models_only(tmp_path):
    models = tmp_path / "models"
    (models / "neural").mkdir(parents=True)
    (models / "layered").mkdir()
    (models / "neural" / "codec.json").write_text('{"sha256": "aa"}')
    (models / "layered" / "residual.json").write_text('{"sha256": "rr"}')
    path = str(tmp_path / "p.jsonl")
    calls = []

    def measure():
        calls.append(1)
        return {"bytes": 7}

    assert eval_layered.Points(path, str(models)).get(["single", "a.png", "8x8", 34, 2], measure) == {"bytes": 7}
    assert eval_layered.Points(path, str(models)).get(["single", "a.png", "8x8", 34, 2], measure) == {"bytes": 7}
    assert len(calls) == 1
    eval_layered.Points(path, str(models)).get(["single", "a.png", "8x8", 35, 2], measure)
    assert len(calls) == 2
    (models / "layered" / "residual.json").write_text('{"sha256": "ss"}')      # other residual weights
    eval_layered.Points(path, str(models)).get(["single", "a.png", "8x8", 34, 2], measure)
    assert len(calls) == 3
    assert all(json.loads(line)["key"][:2] in (["aa", "rr"], ["aa", "ss"]) for line in open(path))
