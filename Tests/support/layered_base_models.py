"""A models folder whose image codec record is the layered coder's base (the record before the
current one): every file of SRC linked into DST, `neural/codec.json` naming the base that
`layered/residual.json` names. For the tests that code a file with that base.

  python3 Tests/support/layered_base_models.py SRC DST
"""

import json
import os
import sys


def make(src, dst):
    for root, _, files in os.walk(src):
        rel = os.path.relpath(root, src)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            os.symlink(os.path.join(os.path.abspath(root), f), os.path.join(dst, rel, f))
    with open(os.path.join(src, "layered", "residual.json")) as f:
        base = json.load(f)["base"]
    os.remove(os.path.join(dst, "neural", "codec.json"))
    with open(os.path.join(dst, "neural", "codec.json"), "w") as f:
        json.dump({"model": base["model"], "sha256": base["sha256"]}, f)


if __name__ == "__main__":
    make(*sys.argv[1:3])
