#!/usr/bin/env python3
"""libnic vs ONNX Runtime on the very same up-scaling network.

Builds an ONNX graph of a shipped setting's up network directly from its safetensors file (the
architecture JSON in the file's metadata, the weights as initializers; onnx.helper only, no
PyTorch), runs it with onnxruntime and runs libnic's `nic_upscale_plane` (through the project's
Python package) on the same luma frames with the same thread count, checks that the outputs match
(max abs error on [0, 1] pixels) and prints both speeds and their ratio.

  python3 bench/compare_ort.py --setting 1 --size 960x540 --frames 20 --threads 2 [--precision P] [--ort-int8] [--json]

libnic runs in the precision asked for (`--precision`, the context option: auto, fp32, int8 ...;
auto resolves per CPU and network, and the result says what it ran in). `--ort-int8` also runs
ONNX Runtime's 8-bit model of the same network: the graph quantised by onnxruntime.quantization
(QDQ, weights per output channel, activations calibrated on the first frames). Outputs are
checked against ONNX Runtime's float32 output: max abs error ≤ 1e-3 for fp32, PSNR ≥ 40 dB for
8-bit arithmetic. The fp32 peak (FMA burst on every worker) comes from `nic bench upscale` when
a `nic` tool is found (`--nic`, else next to the library, else on PATH).

The last line with --json: {"libnic_ms", "ort_ms", "ratio" (libnic / ORT fp32), "precision",
"max_abs_err", "psnr_db", "peak_gflops", and with --ort-int8 "ort_int8_ms", "ratio_int8", ...}.
Times are medians over the frames after one warm-up frame per phase, in one run: each side runs all its
frames as one phase (ORT's pool threads spin between runs and slow down a libnic call made meanwhile:
measured 36 vs 23 ms when alternating), phases in rounds libnic, ORT, libnic, ORT.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(os.path.join(REPO, "python"))  # the package of this checkout when none is installed
sys.path.insert(0, REPO)
import nic  # noqa: E402
from training.metrics import psnr as psnr_of  # noqa: E402

MAX_ABS_ERR = 1e-3   # fp32 against ORT fp32
MIN_PSNR_DB = 40.0   # 8-bit arithmetic against ORT fp32


def read_safetensors(path):
    """(tensors as float32 numpy arrays, metadata dict) from a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = memoryview(data)[8 + n:]
    dtypes = {"F32": np.float32, "F16": np.float16}
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in dtypes:
            raise SystemExit(f"compare_ort: tensor {name} has dtype {info['dtype']}, expected F32 or F16")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"]).astype(np.float32)
    return tensors, meta


def build_onnx(arch, tensors, height, width):
    """ONNX model: base (bicubic resize of the input, PyTorch semantics) + the conv body."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    num, den = arch["scale_rational"]
    out_h, out_w = (height * num + den // 2) // den, (width * num + den // 2) // den
    nodes, inits = [], []
    x = "input"
    inits.append(numpy_helper.from_array(np.array([1, 1, out_h, out_w], np.int64), "base_size"))
    base = arch.get("residual_base", {})
    if base.get("antialias"):
        raise SystemExit("compare_ort: antialiased base resize (down networks) is not modelled here")
    nodes.append(helper.make_node("Resize", [x, "", "", "base_size"], ["base"], mode="cubic", cubic_coeff_a=-0.75,
                                  coordinate_transformation_mode="half_pixel", exclude_outside=0))
    cur = x
    for i, layer in enumerate(arch["layers"]):
        out = f"t{i}"
        op = layer["op"]
        if op == "pixel_unshuffle":
            nodes.append(helper.make_node("SpaceToDepth", [cur], [out], blocksize=int(layer["factor"])))
        elif op == "pixel_shuffle":
            nodes.append(helper.make_node("DepthToSpace", [cur], [out], blocksize=int(layer["factor"]), mode="CRD"))
        elif op == "conv2d":
            w, b = layer["weight"], layer["bias_tensor"]
            inits += [numpy_helper.from_array(tensors[w], w), numpy_helper.from_array(tensors[b], b)]
            k, pad = int(layer["kernel"]), int(layer["padding"])
            conv_out = out if layer.get("activation") in (None, "none") else out + "_pre"
            nodes.append(helper.make_node("Conv", [cur, w, b], [conv_out], kernel_shape=[k, k], pads=[pad] * 4))
            act = layer.get("activation")
            if act == "leaky_relu":
                nodes.append(helper.make_node("LeakyRelu", [conv_out], [out], alpha=float(layer["negative_slope"])))
            elif act == "relu":
                nodes.append(helper.make_node("Relu", [conv_out], [out]))
            elif act not in (None, "none"):
                raise SystemExit(f"compare_ort: activation {act} not modelled")
        else:
            raise SystemExit(f"compare_ort: layer op {op} not modelled")
        cur = out
    nodes.append(helper.make_node("Add", ["base", cur], ["output"]))
    graph = helper.make_graph(nodes, "nic_up", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, height, width])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, out_h, out_w])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8    # onnx 1.23 writes IR 14, which onnxruntime 1.31 rejects
    onnx.checker.check_model(model)
    return model, out_h, out_w


def frames(n, height, width, seed=1):
    """Smooth, textured luma frames in [0, 1] (different per frame)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for t in range(n):
        f = 0.5 + 0.25 * np.sin((x + 7 * t) / 11.0) * np.cos(y / 13.0) + 0.1 * rng.standard_normal((height, width))
        out.append(np.clip(f, 0, 1).astype(np.float32))
    return out


# Each side runs its frames as one phase (ORT's pool threads spin between its runs and would
# slow libnic down if calls alternated), in rounds L O L O so that drift hits both sides.
ROUNDS = 2


def timed(times, call):
    """call() once, its time in ms appended to `times`."""
    t0 = time.perf_counter()
    result = call()
    times.append((time.perf_counter() - t0) * 1e3)
    return result


def median_after_warmup(times, frames):
    """Median over every phase's frames except its first (warm-up) call."""
    kept = [t for i, t in enumerate(times) if i % (frames + 1) != 0]
    return float(np.median(kept))


def psnr(a, b):
    """PSNR in dB of b against a, pixels in [0, 1]."""
    return psnr_of(np.asarray(b, np.float64), np.asarray(a, np.float64))


def ort_int8_session(model, clips, opts):
    """ONNX Runtime session of `model` quantised to 8 bits (QDQ, per-channel weights, activations
    calibrated on `clips`)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.left = iter([{"input": f[None, None]} for f in clips])

        def get_next(self):
            return next(self.left, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
        onnx.save(model, src)
        quantize_static(src, dst, Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv"])
        with open(dst, "rb") as f:
            return ort.InferenceSession(f.read(), opts, providers=["CPUExecutionProvider"])


def measured_peak(nic_tool, setting, models, threads):
    """The fp32 peak in GFLOP/s that `nic bench upscale` measures on `threads` workers, or None."""
    if not nic_tool:
        return None
    try:
        out = subprocess.run([nic_tool, "bench", "upscale", "--setting", str(setting), "--size", "64x64",
                              "--frames", "1", "--threads", str(threads), "--models", models, "--json"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])["peak_gflops"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError):
        return None


def find_nic_tool(explicit):
    if explicit:
        return explicit
    library = os.environ.get("NIC_LIBRARY")
    if library:
        beside = os.path.join(os.path.dirname(os.path.abspath(library)), "nic")
        if os.access(beside, os.X_OK):
            return beside
    return shutil.which("nic")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setting", type=int, default=1)
    ap.add_argument("--size", default="960x540")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=os.path.join(REPO, "models"))
    ap.add_argument("--precision", default="fp32", choices=sorted(nic._capi.PRECISIONS),
                    help="libnic's precision (default fp32)")
    ap.add_argument("--ort-int8", action="store_true", help="also time ONNX Runtime's 8-bit (QDQ) model")
    ap.add_argument("--nic", help="nic tool for the peak measurement")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    import onnxruntime as ort

    width, height = (int(v) for v in a.size.lower().split("x"))
    with open(os.path.join(a.models, "settings.json")) as f:
        setting = next((s for s in json.load(f)["settings"] if s["id"] == a.setting), None)
    if setting is None:
        raise SystemExit(f"compare_ort: no setting {a.setting} in {a.models}")
    tensors, meta = read_safetensors(os.path.join(a.models, setting["up"]["weights"]))
    model, out_h, out_w = build_onnx(json.loads(meta["architecture"]), tensors, height, width)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    clips = frames(a.frames + 1, height, width)
    int8_session = ort_int8_session(model, clips[:8], opts) if a.ort_int8 else None
    ort_ms, int8_ms, nic_ms, err, worst_psnr, int8_psnr = [], [], [], 0.0, float("inf"), float("inf")
    with nic.Context(threads=a.threads, model_dir=a.models, precision=a.precision) as ctx:
        precision, reason = ctx.setting_precision(a.setting)
        for _ in range(ROUNDS):
            ours = [timed(nic_ms, lambda f=f: ctx.upscale_plane(a.setting, f, out_w, out_h)) for f in clips]
            theirs = [timed(ort_ms, lambda f=f: session.run(["output"], {"input": f[None, None]})[0][0, 0]) for f in clips]
            err = max(err, max(float(np.abs(o - t).max()) for o, t in zip(ours, theirs)))
            worst_psnr = min(worst_psnr, min(psnr(t, o) for o, t in zip(ours, theirs)))
            if int8_session is not None:
                q = [timed(int8_ms, lambda f=f: int8_session.run(["output"], {"input": f[None, None]})[0][0, 0])
                     for f in clips]
                int8_psnr = min(int8_psnr, min(psnr(t, o) for o, t in zip(q, theirs)))
    libnic, theirs_ms = median_after_warmup(nic_ms, a.frames), median_after_warmup(ort_ms, a.frames)
    matches = err <= MAX_ABS_ERR if precision == "fp32" else worst_psnr >= MIN_PSNR_DB
    result = {"setting": a.setting, "size": a.size, "threads": a.threads, "frames": a.frames,
              "precision": precision, "precision_reason": reason,
              "libnic_ms": round(libnic, 2), "ort_ms": round(theirs_ms, 2), "ratio": round(libnic / theirs_ms, 3),
              "max_abs_err": float(f"{err:.3g}"), "psnr_db": round(float(worst_psnr), 2),
              "outputs_match": bool(matches), "onnxruntime": ort.__version__,
              "peak_gflops": measured_peak(find_nic_tool(a.nic), a.setting, a.models, a.threads)}
    if int8_session is not None:
        ort_int8 = median_after_warmup(int8_ms, a.frames)
        result.update({"ort_int8_ms": round(ort_int8, 2), "ratio_int8": round(libnic / ort_int8, 3),
                       "ort_int8_psnr_db": round(float(int8_psnr), 2)})
    if not a.json:
        print(f"setting {a.setting}, {a.size} luma, {a.threads} thread(s), median of {a.frames} frames:")
        print(f"  libnic ({precision}: {reason}) {result['libnic_ms']} ms, ONNX Runtime fp32 {result['ort_ms']} ms, "
              f"ratio {result['ratio']}")
        if int8_session is not None:
            print(f"  ONNX Runtime int8 {result['ort_int8_ms']} ms, ratio {result['ratio_int8']}, "
                  f"{result['ort_int8_psnr_db']} dB against its fp32")
        limit = f"max abs error ≤ {MAX_ABS_ERR}" if precision == "fp32" else f"PSNR ≥ {MIN_PSNR_DB} dB"
        print(f"  against ORT fp32: max abs error {result['max_abs_err']}, worst PSNR {result['psnr_db']} dB "
              f"({'match' if matches else 'MISMATCH'}, {limit}); fp32 peak {result['peak_gflops']} GFLOP/s")
    print(json.dumps(result))
    if not matches:
        sys.exit(1)


if __name__ == "__main__":
    main()
