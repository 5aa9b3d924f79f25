#!/usr/bin/env python3
"""Puts a finished qat_int8.py run into the model directory: the setting's "up" entry in
settings.json gets the run's int8 files and "training" its command.

A run of quantisation-aware fine-tuning (OUT/NAME_qat_up.safetensors and OUT/NAME_qat_up.int8.json)
ships as separate int8 weights: both files are copied to MODELS and the entry becomes
"int8": {"ranges": NAME_qat_up.int8.json, "sha256": …, "network": {"weights": NAME_qat_up.safetensors,
"sha256": …}}; the float weights stay. A --ranges-only run (OUT/NAME_up.int8.json, ranges learned
for the shipped weights) ships as a plain ranges file: "int8": {"ranges": …, "sha256": …}.
Either way "training": {"int8": COMMAND} records the run's command (its config.json). The run must
have started from the weights the entry ships now (its config's up_sha256).

  python3 training/aicodec/ship_int8.py training/runs/qat10_floor [--models models]
"""

import argparse
import json
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.files import sha256  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a finished qat_int8.py run directory")
    p.add_argument("--models", default="models")
    a = p.parse_args()
    with open(os.path.join(a.run, "config.json")) as f:
        config = json.load(f)
    manifest_path = os.path.join(a.models, "settings.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    setting = next(s for s in manifest["settings"] if s["id"] == config["setting"])
    up = setting["up"]
    if up["sha256"] != config["up_sha256"]:
        sys.exit(f"{a.run} started from other weights than setting {config['setting']} ships ({up['weights']})")
    stem = os.path.splitext(up["weights"])[0]
    if config.get("ranges_only"):
        files = [stem + ".int8.json"]
    else:
        files = [stem.removesuffix("_up") + "_qat_up.safetensors", stem.removesuffix("_up") + "_qat_up.int8.json"]
    for name in files:
        if not os.path.exists(os.path.join(a.run, name)):
            sys.exit(f"{a.run} has no {name}: not finished")
        shutil.copyfile(os.path.join(a.run, name), os.path.join(a.models, name))
    ranges = files[-1]
    entry = {"ranges": ranges, "sha256": sha256(os.path.join(a.models, ranges))}
    if not config.get("ranges_only"):
        entry["network"] = {"weights": files[0], "sha256": sha256(os.path.join(a.models, files[0]))}
    up["int8"] = entry
    setting.setdefault("training", {})["int8"] = config["command"]
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"setting {setting['id']}: " + ", ".join(files), file=sys.stderr)


if __name__ == "__main__":
    main()
