"""The committed resumable checkpoint: the training-form weights in float32 without the optimizer
state (at most 8 MiB), plus a JSON sidecar with the step, the training hours, the command history and
the hold-out learning curve so far. It is what a new machine resumes from when
training/runs/neural/<run>/ is missing (train.py --init-from <file>.safetensors).

A run that trains the encoder alone (train.py --train encoder, from a record) stores only the
encoder's tensors (model.is_encoder_parameter); the sidecar's "decoder_from" names the record
(path in the repository and sha256) that holds everything else, unchanged.

The decoder fine-tune (finetune_decoder.py) stores only what it trains (model.is_decoder_only_parameter);
its sidecar's "base" names the committed checkpoint or the record it started from (path and sha256),
"finetune" how far it got ("steps_done" of "steps_total") and how many residual blocks it added to
the synthesis ("synthesis_blocks", absent when none), and "encoder_from" the record whose encoder
it was tuned with (absent when the base's own).

    # write it from a run's latest full checkpoint (done at every milestone by train.py itself)
    python3 training/neural/checkpoint.py --from training/runs/neural/main/ckpt_latest.pt
"""

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from model import (add_synthesis_blocks, from_args, from_record, is_decoder_only_parameter,  # noqa: E402
                   is_encoder_parameter, with_encoder)

sys.path.insert(1, data.PROJECT)   # the repository root, for the `training` package
from training.files import sha256  # noqa: E402

FORM = "training-fp32"
MAX_BYTES = 8 * 1024 * 1024


def sidecar(path):
    return os.path.splitext(path)[0] + ".json"


def is_resumable(path):
    """True when a .safetensors file is a training-form checkpoint (not an fp16 inference record)."""
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        return (f.metadata() or {}).get("form") == FORM


def write(state_dict, meta, path):
    """Atomically writes <path> and its sidecar; refuses a file over MAX_BYTES."""
    from safetensors.torch import save_file
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in state_dict.items()}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata={"form": FORM, "step": str(meta["step"])})
    size = os.path.getsize(tmp)
    if size > MAX_BYTES:
        os.remove(tmp)
        raise SystemExit(f"checkpoint would be {size} bytes, over the {MAX_BYTES}-byte limit")
    with open(sidecar(path) + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, path)
    os.replace(sidecar(path) + ".tmp", sidecar(path))
    return size


def read(path):
    """(state_dict, meta) of a checkpoint written by write()."""
    from safetensors.torch import load_file
    with open(sidecar(path)) as f:
        meta = json.load(f)
    return load_file(path), meta


def named_file(ref, what):
    """The absolute path of a file a sidecar names ({"...": path in the repository, "sha256": hex});
    refuses one that is missing or has changed."""
    rel = ref.get("record") or ref.get("checkpoint")
    path = os.path.join(data.PROJECT, rel)
    if not os.path.exists(path) or sha256(path) != ref["sha256"]:
        raise SystemExit(f"{what}: {rel} is missing or has changed")
    return path


def read_model(path):
    """(model, meta) of a checkpoint written by write(); an encoder-only one gets the rest of its
    weights from the record its sidecar names, a decoder fine-tune from its base checkpoint; both
    must be unchanged."""
    sd, meta = read(path)
    if "base" in meta:
        base = named_file(meta["base"], f"{path}: its base")
        model = read_model(base)[0] if is_resumable(base) else from_record(base)
        blocks = meta.get("finetune", {}).get("synthesis_blocks", 0)
        if blocks:
            model = add_synthesis_blocks(model, blocks)
        if "encoder_from" in meta:
            model = with_encoder_of(model, named_file(meta["encoder_from"], f"{path}: its encoder record"))
        if not all(is_decoder_only_parameter(k) for k in sd):
            raise SystemExit(f"{path}: a decoder fine-tune holds decoder-only tensors alone")
        model.load_state_dict(dict(model.state_dict(), **sd))
        return model, meta
    model = from_args(meta["args"])
    if "decoder_from" in meta:
        record = named_file(meta["decoder_from"], f"{path}: its decoder record")
        sd = dict({k: v for k, v in from_record(record).state_dict().items() if not is_encoder_parameter(k)}, **sd)
    model.load_state_dict(sd)
    return model, meta


def codec_lineage(path, meta):
    """(history, hold-out learning curve) of the codec a checkpoint holds, for a run that starts
    from it. A decoder fine-tune's own validations count its fine-tuning steps, not the codec's:
    its codec's curve is its base's (and its history the base's followed by its own)."""
    if "base" not in meta:
        return meta.get("history", []), meta.get("learning_curve", [])
    base = named_file(meta["base"], "the fine-tune's base")
    with open(sidecar(base)) as f:
        base_meta = json.load(f)
    history, curve = codec_lineage(base, base_meta)
    return history + meta.get("history", []), curve


def read_curve(val_path):
    if not os.path.exists(val_path):
        return []
    with open(val_path) as f:
        return [json.loads(line) for line in f if line.strip()]


def portable(v):
    """A path inside the project relative to it (no machine's paths in committed files)."""
    if isinstance(v, str) and os.path.isabs(v) and v.startswith(data.PROJECT + os.sep):
        return os.path.relpath(v, data.PROJECT)
    return v


def with_encoder_of(model, record):
    """model.with_encoder with the encoder of the record at path `record`; a record with another
    entropy model is refused with SystemExit."""
    try:
        return with_encoder(model, from_record(record))
    except ValueError as e:
        raise SystemExit(f"{record}: {e}") from None


def record_reference(path):
    """What a sidecar says of a record it depends on: its path in the repository and its sha256."""
    return {"record": portable(os.path.abspath(path)), "sha256": sha256(path)}


def decoder_source(init_from):
    """The "decoder_from" of an encoder-only run started with --init-from `init_from`: the record
    itself, or the one a committed encoder-only checkpoint names."""
    src = init_from or ""
    if src.endswith(".safetensors") and os.path.exists(src):
        if not is_resumable(src):
            return record_reference(src)
        with open(sidecar(src)) as f:
            meta = json.load(f)
        if "decoder_from" in meta:
            return meta["decoder_from"]
    raise SystemExit("an encoder-only run starts from a record (--init-from RECORD.safetensors) "
                     "or from an encoder-only checkpoint")


def meta_for(step, train_seconds, history, args, curve, base=None):
    """The sidecar's content; for a decoder fine-tune also "base" (base_reference), otherwise for an
    encoder-only run "decoder_from"."""
    meta = {"step": step, "train_hours": round(train_seconds / 3600, 4), "history": history,
            "args": {k: portable(v) for k, v in args.items() if k not in ("data", "cache")},
            "learning_curve": curve}
    if base:
        meta["base"] = base
    elif args.get("train") == "encoder":
        meta["decoder_from"] = decoder_source(args.get("init_from"))
    return meta


def base_reference(path):
    """What a decoder fine-tune's sidecar says of the committed checkpoint or the record it starts from."""
    if not (path.endswith(".safetensors") and os.path.exists(path)):
        raise SystemExit(f"{path}: a decoder fine-tune written to the repository starts from a committed "
                         "checkpoint or a record")
    kind = "checkpoint" if is_resumable(path) else "record"
    return {kind: portable(os.path.abspath(path)), "sha256": sha256(path)}


def committed_state(state_dict, meta):
    """The tensors the committed checkpoint holds: all, the encoder's alone or the decoder's alone
    (see the top)."""
    if "base" in meta:
        return {k: v for k, v in state_dict.items() if is_decoder_only_parameter(k)}
    if "decoder_from" in meta:
        return {k: v for k, v in state_dict.items() if is_encoder_parameter(k)}
    return state_dict


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="src", required=True, help="a run's ckpt_latest.pt (or a snapshot)")
    p.add_argument("--out", required=True, help="the committed file, e.g. training/neural/checkpoint/NAME.safetensors")
    a = p.parse_args()
    ck = torch.load(a.src, map_location="cpu", weights_only=False)
    curve = read_curve(os.path.join(os.path.dirname(a.src), "val.jsonl"))
    curve = [c for c in curve if c["step"] <= ck["step"]]
    meta = meta_for(ck["step"], ck.get("train_seconds", 0.0), ck.get("history", []), ck["args"], curve)
    size = write(committed_state(ck["model"], meta), meta, a.out)
    print(f"wrote {os.path.relpath(a.out, data.PROJECT)} ({size} bytes, step {ck['step']})")


if __name__ == "__main__":
    main()
