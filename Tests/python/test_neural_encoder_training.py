"""train.py --train encoder: a wider analysis trained against a record's frozen decoder. Only the
encoder's tensors move; the committed checkpoint holds them alone and names the record; a run
resumes from it; the exported record keeps the decoder and every entropy table bit-identical, so
files coded before decode as they did. Skipped where PyTorch or the training data is missing.
"""

import json
import os
import sys

import pytest

torch = pytest.importorskip("torch")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "training", "neural"))
sys.path.insert(0, os.path.dirname(__file__))
import model as nm  # noqa: E402
from test_neural_grow import small_trained_like, train_module  # noqa: E402


def small_record(tmp_path, seed):
    """A record (export_record.py) of a small random N 8, M 12 model, as the frozen decoder of a run."""
    import export_record
    src = small_trained_like(8, 12, seed)
    torch.save({"model": src.state_dict(), "args": {"N": 8, "M": 12, "levels_below": 2, "total_steps": 7}, "step": 7,
                "history": []}, tmp_path / "small.pt")
    record = str(tmp_path / "rec.safetensors")
    export_record.main(["--ckpt", str(tmp_path / "small.pt"), "--out", record, "--no-validate"])
    return record


def committed_encoder_run(tmp_path, monkeypatch, seed=5):
    """A two-step encoder-only run from a small record, committed: the base of a decoder fine-tune.
    Returns (finetune_decoder with its RUNS in tmp_path, the committed checkpoint's path)."""
    train = train_module(tmp_path, monkeypatch)
    import finetune_decoder
    monkeypatch.setattr(finetune_decoder, "RUNS", str(tmp_path))
    record = small_record(tmp_path, seed)
    committed = str(tmp_path / "enc.safetensors")
    train.main(["--run", "enc", "--init-from", record, "--steps", "2", "--milestone-every", "2", "--milestone-path",
                committed, "--N", "8", "--M", "12", "--Na", "16", "--train", "encoder", "--levels-below", "2",
                "--crop", "64", "--batch", "2", "--val-levels", "", "--snapshot-every", "0", "--lr", "1e-3"])
    return finetune_decoder, committed, record


def test_encoder_only_training_keeps_the_decoder_and_its_tables(tmp_path, monkeypatch):
    train = train_module(tmp_path, monkeypatch)
    import checkpoint
    import export_record
    from safetensors.torch import load_file

    record = small_record(tmp_path, 3)
    committed = str(tmp_path / "enc.safetensors")
    common = ["--N", "8", "--M", "12", "--Na", "16", "--train", "encoder", "--levels-below", "2", "--crop", "64",
              "--batch", "2", "--val-levels", "", "--snapshot-every", "0", "--lr", "1e-3"]
    train.main(["--run", "enc", "--init-from", record, "--steps", "3", "--milestone-every", "10",
                "--milestone-path", committed] + common)

    frozen = nm.from_record(record).state_dict()
    trained = torch.load(tmp_path / "enc" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    assert trained["step"] == 10 and trained["args"]["Na"] == 16
    moved = 0
    for k, v in trained["model"].items():
        if nm.is_encoder_parameter(k):
            if k in ("g_a.0.weight", "h_a.0.weight", "gain_y.log"):
                moved += int(v.shape == frozen[k].shape and not torch.equal(v, frozen[k]))
        else:
            assert torch.equal(v, frozen[k]), k
    assert moved == 1 + 1          # h_a.0 and gain_y have the record's shapes and have moved; g_a.0 grew
    assert trained["model"]["g_a.0.weight"].shape[0] == 16

    # the committed checkpoint: the encoder alone, the record named by its digest
    sd, meta = checkpoint.read(committed)
    assert set(sd) == {k for k in trained["model"] if nm.is_encoder_parameter(k)}
    assert meta["decoder_from"]["sha256"] == checkpoint.sha256(record)
    # a new machine resumes from it: the same model
    committed2 = str(tmp_path / "enc2.safetensors")
    train.main(["--run", "again", "--init-from", committed, "--steps", "1", "--lr", "0", "--milestone-every", "11",
                "--milestone-path", committed2] + common[:-2])
    again = torch.load(tmp_path / "again" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    assert again["step"] == 11
    for k, v in again["model"].items():
        assert torch.equal(v, sd[k] if k in sd else frozen[k]), k
    assert checkpoint.read(committed2)[1]["decoder_from"] == meta["decoder_from"]

    # the exported record: a new encoder, the decoder and the entropy tables byte for byte
    export_record.main(["--ckpt", str(tmp_path / "enc" / "ckpt_latest.pt"), "--out", str(tmp_path / "rec2"),
                        "--no-validate"])
    old, new = load_file(record), load_file(str(tmp_path / "rec2.safetensors"))
    encoder_tensors = ("g_a.", "h_a.", "gain.y", "gain.z")
    for k in old:
        if k.startswith(encoder_tensors) and not k.startswith(("gain.y_inv", "gain.z_inv")):
            continue
        assert torch.equal(old[k], new[k]), k
    assert new["g_a.0.weight"].shape[0] == 16
    with open(tmp_path / "rec2.json") as f:
        assert json.load(f)["architecture"]["N_analysis"] == 16

    # an encoder-only run must start from a record: its decoder is what it is trained against
    with pytest.raises(SystemExit):
        train.main(["--run", "bad", "--steps", "1"] + common)
    assert not (tmp_path / "bad" / "ckpt_latest.pt").exists()


def test_decoder_finetune_commits_the_decoder_alone_and_a_new_machine_resumes_from_it(tmp_path, monkeypatch, capsys):
    import checkpoint
    import export_record
    from safetensors.torch import load_file
    finetune_decoder, committed, record = committed_encoder_run(tmp_path, monkeypatch)

    out = str(tmp_path / "dec.safetensors")
    common = ["--from", committed, "--batch", "2", "--crop", "64", "--val-levels", "", "--lr", "1e-3", "--out", out]
    finetune_decoder.main(["--run", "ft", "--steps", "4", "--val-every", "2"] + common)
    with open(tmp_path / "ft" / "val.jsonl") as f:
        vals = [json.loads(line) for line in f]
    assert [v["step"] for v in vals] == [0, 2, 4] and all("levels_integer_grid" in v for v in vals)
    sd, meta = checkpoint.read(out)
    base, _ = checkpoint.read_model(committed)
    assert set(sd) == {k for k in base.state_dict() if nm.is_decoder_only_parameter(k)}
    assert meta["finetune"] == {"steps_done": 4, "steps_total": 4, "lr": 1e-3, "rounding": "mixed"}
    assert meta["base"]["sha256"] == checkpoint.sha256(committed) and "decoder_from" not in meta
    tuned, _ = checkpoint.read_model(out)
    run = torch.load(tmp_path / "ft" / "ckpt_latest.pt", map_location="cpu", weights_only=False)["model"]
    moved = 0
    for k, v in tuned.state_dict().items():
        assert torch.equal(v, run[k]), k
        if nm.is_decoder_only_parameter(k):
            moved += int(not torch.equal(v, base.state_dict()[k]))
        else:
            assert torch.equal(v, base.state_dict()[k]), k
    assert moved > 0

    # a new machine (no run folder) with a longer plan continues from the committed step
    capsys.readouterr()
    finetune_decoder.main(["--run", "ft_elsewhere", "--steps", "6", "--val-every", "100"] + common)
    assert "resumed " + out + " at fine-tuning step 4" in capsys.readouterr().out
    assert checkpoint.read(out)[1]["finetune"]["steps_done"] == 6

    # the record exported from the committed fine-tune: its decoder, the base's encoder
    export_record.main(["--ckpt", out, "--out", str(tmp_path / "rec3"), "--no-validate"])
    rec3, tuned = load_file(str(tmp_path / "rec3.safetensors")), checkpoint.read_model(out)[0].state_dict()
    assert torch.equal(rec3["g_s.0.weight"], tuned["g_s.0.weight"].to(torch.float16))
    assert torch.equal(rec3["g_a.0.weight"], base.state_dict()["g_a.0.weight"].to(torch.float16))

    # a fine-tune of a record (the form of a model too big for the training form) names the record
    from_record = str(tmp_path / "from_record.safetensors")
    finetune_decoder.main(["--run", "ft_record", "--steps", "2", "--from", record, "--out", from_record,
                           "--batch", "2", "--crop", "64", "--val-levels", "", "--lr", "1e-3"])
    sd, meta = checkpoint.read(from_record)
    assert meta["base"] == {"record": record, "sha256": checkpoint.sha256(record)}
    tuned = checkpoint.read_model(from_record)[0].state_dict()
    frozen = nm.from_record(record).state_dict()
    assert all(torch.equal(v, sd[k] if k in sd else frozen[k]) for k, v in tuned.items())
    assert any(not torch.equal(sd[k], frozen[k]) for k in sd)
    # and it must be the same record later
    with open(record, "ab") as f:
        f.write(b" ")
    with pytest.raises(SystemExit):
        checkpoint.read_model(from_record)
    with pytest.raises(SystemExit):
        finetune_decoder.main(["--run", "bad", "--steps", "1", "--from", str(tmp_path / "missing.safetensors"),
                               "--out", str(tmp_path / "x.safetensors"), "--val-levels", ""])


def test_decoder_finetune_roundings_are_the_decoders_grids():
    """Each rounding of the fine-tune puts the latents where a decoder of that kind of file finds
    them; the validation's integer grid codes round(y)."""
    import numpy as np
    import finetune_decoder
    torch.manual_seed(0)
    model = small_trained_like(8, 12, 4).eval()
    x, level = torch.rand(1, 3, 64, 64), torch.tensor([1.0])
    yg, z_hat = model.gained_latents(model.g_a(x), level)
    means, _ = model.hyper_params(z_hat, level)
    rng = np.random.Generator(np.random.PCG64(1))
    on = {r: finetune_decoder.hard_rounded_latents(model, x, level, r, rng) for r in finetune_decoder.ROUNDINGS}
    assert torch.equal(on["means"], torch.round(yg - means) + means)
    assert torch.equal(on["integer"], torch.round(yg))
    frac = on["dsq"] - torch.floor(on["dsq"])
    half = frac == 0.5
    assert torch.all(half | (frac == 0)) and 0.3 < float(half.float().mean()) < 0.7
    assert torch.equal(on["dsq"][half], (torch.floor(yg) + 0.5)[half])     # nearest half-integer
    assert torch.equal(on["dsq"][~half], torch.round(yg)[~half])          # nearest integer
    assert (on["means"] - on["integer"]).abs().max() > 0                  # the grids differ
    bits_m, xh_m = model.evaluate(x, [1])[0]
    bits_i, xh_i = model.evaluate(x, [1], "integer")[0]
    assert torch.allclose(xh_i, model.g_s(torch.round(yg) * model.gain_y_inv.at(level)))
    assert bits_m != bits_i and not torch.equal(xh_m, xh_i)


def test_synthesis_blocks_start_as_the_identity_and_a_finetune_with_them_commits_and_resumes(tmp_path, monkeypatch,
                                                                                            capsys):
    """add_synthesis_blocks: the same reconstruction and rate at the start; a decoder fine-tune that adds
    them trains them at their own learning rate, commits them with the decoder, resumes from that on a
    new machine; the exported record lists them as residual entries of g_s and reads back with them."""
    torch.set_num_threads(1)
    src = small_trained_like(8, 12, 6)
    x = torch.rand(1, 3, 64, 128)
    deeper = nm.add_synthesis_blocks(src, 2).eval()
    assert deeper.g_s.n_blocks == 2 and len(deeper.g_s.blocks) == 2
    assert deeper.g_s.block_macs_per_pixel() == 2 * 2 * 9 * 8 * 8 / 64
    for (b0, x0), (b1, x1) in zip(src.evaluate(x, [0, 5]), deeper.evaluate(x, [0, 5])):
        assert b0 == b1 and torch.equal(x0, x1)
    assert not torch.equal(deeper.g_s.blocks[0].conv1.weight, torch.zeros_like(deeper.g_s.blocks[0].conv1.weight))
    with pytest.raises(ValueError):
        nm.grow(deeper, 16, 12)

    import checkpoint
    import export_record
    finetune_decoder, committed, _ = committed_encoder_run(tmp_path, monkeypatch)
    out = str(tmp_path / "deep.safetensors")
    common = ["--from", committed, "--batch", "2", "--crop", "64", "--val-levels", "", "--lr", "1e-7",
              "--synthesis-blocks", "2", "--blocks-lr-mult", "1e4", "--lr-drop-at", "0.5", "--out", out]
    finetune_decoder.main(["--run", "deep", "--steps", "3", "--val-every", "100"] + common)
    sd, meta = checkpoint.read(out)
    assert meta["finetune"]["synthesis_blocks"] == 2 and any(k.startswith("g_s.blocks.1.") for k in sd)
    tuned, _ = checkpoint.read_model(out)
    base, _ = checkpoint.read_model(committed)
    for k, v in base.state_dict().items():     # Adam's steps are about the lr: 1e-7 here, 1e-3 in the blocks
        assert (v - tuned.state_dict()[k]).abs().max() <= 1e-6, k
    assert tuned.g_s.blocks[0].conv2.weight.abs().max() > 1e-4

    capsys.readouterr()
    finetune_decoder.main(["--run", "deep_elsewhere", "--steps", "4", "--val-every", "100"] + common)
    assert "resumed " + out + " at fine-tuning step 3" in capsys.readouterr().out
    again = torch.load(tmp_path / "deep_elsewhere" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    assert again["step"] == 4 and again["args"]["synthesis_blocks"] == 2
    # past half of the 4 steps every learning rate is x0.1: the decoder's 1e-8, the blocks' 1e-4
    assert [g["lr"] for g in again["opt"]["param_groups"]] == pytest.approx([1e-8, 1e-4])

    final, _ = checkpoint.read_model(out)      # the resumed run's state, committed at its step 4
    rec = str(tmp_path / "rec_deep")
    export_record.main(["--ckpt", out, "--out", rec, "--no-validate"])
    with open(rec + ".json") as f:
        side = json.load(f)
    g_s = side["architecture"]["g_s"]
    assert [e["op"] for e in g_s] == ["conv_transpose2d", "gdn", "residual", "residual"] + \
        ["conv_transpose2d", "gdn", "conv_transpose2d", "gdn", "conv_transpose2d"]
    assert [e["name"] for e in g_s[3]["layers"]] == ["g_s.blocks.1.conv1", "g_s.blocks.1.conv2"]
    assert g_s[3]["layers"][0]["activation"] == "leaky_relu" and "activation" not in g_s[3]["layers"][1]
    assert g_s[4]["name"] == "g_s.2"
    for e in g_s[2]["layers"] + g_s[3]["layers"]:
        assert e["name"] + ".weight" in side["tensors"] and e["name"] + ".bias" in side["tensors"]
    shipped = nm.from_record(rec + ".safetensors").eval()
    assert shipped.g_s.n_blocks == 2
    exported = nm.inference_state_dict(shipped)
    for k, v in nm.inference_state_dict(final).items():    # the record holds float16 values
        if k.startswith("g_s.") and k.endswith((".weight", ".bias")):
            assert torch.equal(exported[k], v.half().float()), k
        elif k.startswith("g_s."):                           # GDN's values pass its reparameterisation
            assert torch.allclose(exported[k], v, rtol=2e-3, atol=1e-4), k


def test_a_finetuned_decoder_ships_with_another_records_encoder(tmp_path, monkeypatch):
    """export_record.py --encoder-from: the decoder a fine-tune trained on a wide encoder's latents,
    shipped with the narrow encoder of the record that run started from (same entropy model): the
    record holds that record's encoder tensors and the fine-tune's decoder; a record with another
    entropy model is refused."""
    torch.set_num_threads(1)
    import checkpoint
    import export_record
    finetune_decoder, committed, record = committed_encoder_run(tmp_path, monkeypatch)
    out = str(tmp_path / "deep.safetensors")
    finetune_decoder.main(["--run", "deep", "--steps", "2", "--val-every", "100", "--from", committed, "--batch", "2",
                           "--crop", "64", "--val-levels", "", "--lr", "1e-3", "--synthesis-blocks", "1", "--out", out])
    tuned, _ = checkpoint.read_model(out)
    assert tuned.Na == 16
    rec = str(tmp_path / "combined")
    export_record.main(["--ckpt", out, "--encoder-from", record, "--out", rec, "--no-validate"])
    shipped = nm.inference_state_dict(nm.from_record(rec + ".safetensors"))
    narrow = nm.inference_state_dict(nm.from_record(record))
    wide = nm.inference_state_dict(tuned)
    assert shipped["g_a.0.weight"].shape[0] == 8
    for k, v in shipped.items():
        if nm.is_encoder_parameter(k):
            assert torch.equal(v, narrow[k]), k
        elif k.startswith("g_s.") and k.endswith((".weight", ".bias")):
            assert torch.equal(v, wide[k].half().float()), k
    assert any(k.startswith("g_s.blocks.0.") for k in shipped)
    with open(rec + ".json") as f:
        assert json.load(f)["encoder_from"] == export_record.portable(checkpoint.record_reference(record))

    (tmp_path / "other").mkdir()
    other = small_record(tmp_path / "other", seed=9)
    with pytest.raises(SystemExit, match="not the same entropy model"):
        export_record.main(["--ckpt", out, "--encoder-from", other, "--out", str(tmp_path / "refused"), "--no-validate"])


def test_a_decoder_finetune_with_another_records_encoder_commits_and_resumes_with_it(tmp_path, monkeypatch, capsys):
    """finetune_decoder.py --encoder-from: the synthesis is tuned on the narrow record's latents; the
    committed checkpoint names that record and reads back (checkpoint.read_model) with its encoder and
    the tuned decoder; a new machine resumes from it; a record with another entropy model is refused."""
    torch.set_num_threads(1)
    import checkpoint
    finetune_decoder, committed, record = committed_encoder_run(tmp_path, monkeypatch)
    out = str(tmp_path / "narrow.safetensors")
    common = ["--from", committed, "--encoder-from", record, "--batch", "2", "--crop", "64", "--val-levels", "",
              "--lr", "1e-3", "--out", out]
    finetune_decoder.main(["--run", "narrow", "--steps", "2", "--val-every", "100"] + common)
    sd, meta = checkpoint.read(out)
    assert meta["encoder_from"]["record"].endswith("rec.safetensors")
    assert all(nm.is_decoder_only_parameter(k) for k in sd)
    tuned, _ = checkpoint.read_model(out)
    narrow = nm.from_record(record).state_dict()
    wide, _ = checkpoint.read_model(committed)
    assert tuned.Na == 8 and wide.Na == 16
    for k, v in tuned.state_dict().items():
        if nm.is_encoder_parameter(k):
            assert torch.equal(v, narrow[k]), k
        elif not nm.is_decoder_only_parameter(k):
            assert torch.equal(v, wide.state_dict()[k]), k
    assert (tuned.g_s[0].weight - wide.g_s[0].weight).abs().max() > 1e-5    # the decoder did train

    capsys.readouterr()
    finetune_decoder.main(["--run", "narrow_elsewhere", "--steps", "3", "--val-every", "100"] + common)
    assert "resumed " + out + " at fine-tuning step 2" in capsys.readouterr().out
    again = torch.load(tmp_path / "narrow_elsewhere" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    assert again["step"] == 3 and again["args"]["Na"] == 8

    (tmp_path / "other").mkdir()
    other = small_record(tmp_path / "other", seed=9)
    with pytest.raises(SystemExit, match="not the same entropy model"):
        finetune_decoder.main(["--run", "refused", "--steps", "1", "--from", committed, "--encoder-from", other,
                               "--batch", "2", "--crop", "64", "--val-levels", ""])


def test_a_run_that_ends_on_a_milestone_validates_its_last_step_once(tmp_path, monkeypatch):
    train = train_module(tmp_path, monkeypatch)
    record = small_record(tmp_path, 4)
    train.main(["--run", "ends", "--init-from", record, "--start-step", "0", "--total-steps", "2",
                "--milestone-every", "2", "--milestone-path", str(tmp_path / "ends.safetensors"), "--N", "8",
                "--M", "12", "--Na", "16", "--train", "encoder", "--levels-below", "2", "--crop", "64", "--batch", "2",
                "--val-levels", "", "--snapshot-every", "0", "--lr", "1e-3"])
    with open(tmp_path / "ends" / "val.jsonl") as f:
        steps = [json.loads(line)["step"] for line in f if line.strip()]
    assert steps.count(2) == 1, steps


def test_a_run_from_a_decoder_finetune_continues_its_base_codecs_curve(tmp_path, monkeypatch):
    """The fine-tune's validations count fine-tuning steps: a run started from it carries the
    learning curve and history of the codec it tuned, then its own."""
    import checkpoint
    finetune_decoder, committed, _ = committed_encoder_run(tmp_path, monkeypatch)
    out = str(tmp_path / "ft.safetensors")
    finetune_decoder.main(["--run", "ft", "--steps", "2", "--val-every", "1", "--from", committed, "--batch", "2",
                           "--crop", "64", "--val-levels", "", "--out", out])
    _, base_meta = checkpoint.read(committed)
    _, ft_meta = checkpoint.read(out)
    base_steps = [v["step"] for v in base_meta["learning_curve"]]
    assert base_steps and [v["step"] for v in ft_meta["learning_curve"]] != base_steps

    train = train_module(tmp_path, monkeypatch)
    train.main(["--run", "next", "--init-from", out, "--steps", "1", "--N", "8", "--M", "12", "--Na", "16",
                "--levels-below", "2", "--crop", "64", "--batch", "2", "--val-levels", "", "--snapshot-every", "0",
                "--lr", "1e-5"])
    with open(tmp_path / "next" / "val.jsonl") as f:
        carried = [json.loads(line) for line in f if line.strip()]
    assert [v["step"] for v in carried[:len(base_steps)]] == base_steps
    ck = torch.load(tmp_path / "next" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    kinds = [next(iter(h)) for h in ck["history"]]
    assert kinds[:len(base_meta["history"])] == [next(iter(h)) for h in base_meta["history"]]
    assert "decoder_finetune" in kinds


def test_export_record_default_for_a_quality_range(tmp_path):
    """--default points codec.json at the record for every quality; --from-quality Q adds (or replaces)
    the range from Q up and keeps the rest, in increasing order."""
    import export_record
    from training.files import sha256
    small_record(tmp_path, 3)
    out = str(tmp_path / "rec")
    export_record.main(["--ckpt", str(tmp_path / "small.pt"), "--out", out, "--no-validate", "--default"])
    manifest = tmp_path / "codec.json"
    assert json.loads(manifest.read_text()) == {"model": "rec.safetensors", "sha256": sha256(out + ".safetensors"),
                                                "record": "rec.json"}
    for q in (80, 60, 80):
        export_record.main(["--ckpt", str(tmp_path / "small.pt"), "--out", str(tmp_path / f"top{q}"), "--no-validate",
                            "--default", "--from-quality", str(q)])
    codec = json.loads(manifest.read_text())
    assert codec["model"] == "rec.safetensors"
    assert [(r["from_quality"], r["model"]) for r in codec["ranges"]] == [(60, "top60.safetensors"), (80, "top80.safetensors")]
    for bad in (["--from-quality", "70"], ["--default", "--from-quality", "1"], ["--default", "--from-quality", "101"]):
        with pytest.raises(SystemExit):
            export_record.main(["--ckpt", str(tmp_path / "small.pt"), "--out", str(tmp_path / "bad"), "--no-validate", *bad])
