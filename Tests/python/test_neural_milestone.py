"""train.py --milestone-form record: the committed checkpoint of a model too big for the float32
training form is its float16 record (export_record.py), written whole or not at all, and a new
machine continues the run from it. Skipped where PyTorch or the training data is missing.
"""

import json
import os
import sys

import pytest

torch = pytest.importorskip("torch")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "training", "neural"))
sys.path.insert(0, os.path.dirname(__file__))
from test_neural_encoder_training import small_record  # noqa: E402
from test_neural_grow import train_module  # noqa: E402

COMMON = ["--N", "8", "--M", "12", "--levels-below", "2", "--crop", "64", "--batch", "2", "--val-levels", "",
          "--snapshot-every", "0"]


def test_a_record_milestone_is_whole_and_resumes_the_run(tmp_path, monkeypatch):
    train = train_module(tmp_path, monkeypatch)
    from training.files import sha256

    record = small_record(tmp_path, 4)                        # step 7
    committed = str(tmp_path / "open.safetensors")
    train.main(["--run", "a", "--init-from", record, "--steps", "3", "--milestone-every", "10", "--milestone-form",
                "record", "--milestone-path", committed, "--lr", "1e-3"] + COMMON)

    with open(tmp_path / "open.json") as f:
        side = json.load(f)
    assert side["step"] == 10 and side["sha256"] == sha256(committed)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    # the run's own history travels with it: where it started and the command that trained it
    assert any(str(h.get("init_from", "")).endswith("rec.safetensors") and h["source_step"] == 7
               for h in side["history"])
    assert any("command" in h and h["start_step"] == 7 for h in side["history"])

    # a new machine: the run continues at the record's step from the run's weights (float16-rounded)
    trained = torch.load(tmp_path / "a" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    train.main(["--run", "b", "--init-from", committed, "--steps", "1", "--lr", "0"] + COMMON)
    again = torch.load(tmp_path / "b" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    assert again["step"] == 11
    assert any(str(h.get("init_from", "")).endswith("open.safetensors") and h["source_step"] == 10
               for h in again["history"])
    for k, v in again["model"].items():
        assert torch.allclose(v, trained["model"][k], rtol=2e-3, atol=2e-3), k
    # and the record differs from where the first run started: the milestone holds the trained state
    start = torch.load(tmp_path / "small.pt", map_location="cpu", weights_only=False)["model"]
    assert any(not torch.allclose(again["model"][k], start[k], atol=1e-4)
               for k in start if k.startswith("g_s.") and k in again["model"])

    # the milestone is exported as a record like any checkpoint, with its step and the same weights
    import export_record
    from safetensors.torch import load_file
    export_record.main(["--ckpt", committed, "--out", str(tmp_path / "shipped"), "--no-validate"])
    with open(tmp_path / "shipped.json") as f:
        assert json.load(f)["step"] == 10
    shipped, milestone = load_file(tmp_path / "shipped.safetensors"), load_file(committed)
    assert shipped.keys() == milestone.keys()
    for k, v in milestone.items():
        assert torch.equal(shipped[k], v), k
