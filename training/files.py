"""File helpers shared by every training package (no torch: the Python tests import this module).

sha256 is the checksum every manifest records (models/settings.json, the neural records, golden
fixtures); libnic verifies the same digest when it loads a model.
"""

import hashlib
import json
import os


def sha256(path):
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_json(path, obj):
    """Writes obj as JSON (indent 1) through a temporary file, so a reader never sees half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def neural_record(models):
    """Path of the neural codec record that `models`/neural/codec.json names (the one libnic loads)."""
    with open(os.path.join(models, "neural", "codec.json")) as f:
        return os.path.join(models, "neural", json.load(f)["model"])


def layered_base_record(models):
    """Path of the image codec record of layered coding's base layer: the `base` entry of
    `models`/layered/residual.json, the model its residual codec was trained on (libnic's
    ModelStore.layeredBaseModel loads the same file from `models`/neural)."""
    with open(os.path.join(models, "layered", "residual.json")) as f:
        return os.path.join(models, "neural", json.load(f)["base"]["model"])
