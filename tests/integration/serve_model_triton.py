#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Interoperability: the official Triton client (PyPI tritonclient[http],
installed by scripts/test-venv.sh) against `cvbench serve-model`.

Checks, with tritonclient.http.InferenceServerClient: is_server_live /
is_server_ready / is_model_ready, get_server_metadata, get_model_metadata,
get_model_config, infer with binary and with JSON inputs (binary and JSON
outputs) equal to `cvbench infer` on the same frame within 1e-5 relative L2,
the error replies surfacing as InferenceServerException with the server's
message, and get_inference_statistics counting the requests made. Then the
same for a server started with --input-format f32 (FP32 [1,3,S,S] input).
Skips (77) when tritonclient is not installed."""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
except ImportError as e:
    print("skip: %s (run scripts/test-venv.sh)" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_model import FAILS, S, Server, check  # noqa: E402  (stdlib-only helpers)


def rel_l2(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def check_server(cl, x, ref, in_dtype, in_shape):
    check(cl.is_server_live(), "is_server_live")
    check(cl.is_server_ready(), "is_server_ready")
    check(cl.is_model_ready("m"), "is_model_ready('m')")
    check(not cl.is_model_ready("nope"), "is_model_ready('nope') is False")
    sm = cl.get_server_metadata()
    check(sm["name"] == "cvbench" and "binary_tensor_data" in sm["extensions"],
          "get_server_metadata")
    mm = cl.get_model_metadata("m")
    check(mm["inputs"][0]["datatype"] == in_dtype and mm["inputs"][0]["shape"] == in_shape and
          mm["outputs"][0]["name"] == "output0", "get_model_metadata: %s %s" % (in_dtype, in_shape))
    mc = cl.get_model_config("m")
    check(mc["max_batch_size"] == 0 and mc["input"][0]["dims"] == in_shape,
          "get_model_config: max_batch_size 0, dims %s" % in_shape)

    n = 0
    for binary_in in (True, False):
        for binary_out in (True, False):
            inp = httpclient.InferInput(mm["inputs"][0]["name"], in_shape, in_dtype)
            inp.set_data_from_numpy(x, binary_data=binary_in)
            out = httpclient.InferRequestedOutput("output0", binary_data=binary_out)
            r = cl.infer("m", [inp], outputs=[out], request_id="q%d" % n)
            n += 1
            y = r.as_numpy("output0")
            e = rel_l2(y, ref)
            check(y is not None and y.shape == ref.shape and e <= 1e-5,
                  "infer (binary in %s, binary out %s): rel L2 %.2e vs cvbench infer" % (
                      binary_in, binary_out, e))

    # error replies reach the client as exceptions carrying the server's message
    bad = httpclient.InferInput(mm["inputs"][0]["name"], [1, 2, 2, 3], in_dtype)
    bad.set_data_from_numpy(np.zeros((1, 2, 2, 3), x.dtype), binary_data=True)
    try:
        cl.infer("m", [bad])
        check(False, "wrong shape raises")
    except InferenceServerException as ex:
        check("shape" in str(ex), "wrong shape -> InferenceServerException: %s" % ex)
    try:
        inp = httpclient.InferInput(mm["inputs"][0]["name"], in_shape, in_dtype)
        inp.set_data_from_numpy(x, binary_data=True)
        cl.infer("nope", [inp])
        check(False, "unknown model raises")
    except InferenceServerException as ex:
        check("unknown model" in str(ex), "unknown model -> InferenceServerException: %s" % ex)

    st = cl.get_inference_statistics("m")["model_stats"][0]
    inf = st["inference_stats"]
    check(int(inf["success"]["count"]) == n and int(inf["fail"]["count"]) == 1 and
          int(st["inference_count"]) == n and int(st["execution_count"]) == n,
          "get_inference_statistics: success %d, fail 1 (got %s, %s)" % (
              n, inf["success"]["count"], inf["fail"]["count"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    cvb = ap.parse_args().cvbench
    tmp = tempfile.mkdtemp(prefix="cvb-serve-triton-")
    model = os.path.join(tmp, "m.onnx")
    subprocess.run([cvb, "model", "synth", "--arch", "yolov8n", "--imgsz", str(S), "-o", model],
                   check=True, stdout=subprocess.DEVNULL)
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (1, S, S, 3), dtype=np.uint8)
    f32 = np.ascontiguousarray(frame.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    for fmt, x, dt, shape, infmt in (("u8", frame, "UINT8", [1, S, S, 3], "u8-nhwc"),
                                     ("f32", f32, "FP32", [1, 3, S, S], "f32-nchw")):
        xp = os.path.join(tmp, "x-%s.npy" % fmt)
        yp = os.path.join(tmp, "y-%s.npy" % fmt)
        np.save(xp, x)
        subprocess.run([cvb, "infer", "--model", model, "--input", xp, "--output", yp,
                        "--input-format", infmt], check=True, stdout=subprocess.DEVNULL)
        ref = np.load(yp)
        print("-- serve-model --input-format %s" % fmt)
        srv = Server(cvb, model, tmp, fmt, "--instances", "2", "--threads", "1",
                     "--input-format", fmt)
        cl = httpclient.InferenceServerClient(url="127.0.0.1:%d" % srv.port)
        try:
            check_server(cl, x, ref, dt, shape)
        finally:
            cl.close()
            srv.stop()
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
