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
same for a server started with --input-format f32 (FP32 [1,3,S,S] input),
and a --max-batch 8 server: config with max_batch_size and dynamic_batching,
infer with [2,S,S,3] (see batching()).
Skips (77) when tritonclient is not installed."""
import os
import subprocess
import sys

try:
    import numpy as np
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
except ImportError as e:
    print("skip: %s (run scripts/test-venv.sh)" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_model import FAILS, S, Server, check, setup  # noqa: E402  (stdlib-only helpers)


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


def batching(cvb, tmp, model):
    """A --max-batch 8 server as tritonclient sees it: the config carries
    max_batch_size 8, dims without the batch dim and dynamic_batching; the
    metadata has -1 as the batch dim; infer with [2,S,S,3] returns [2,...]
    equal to each frame's `cvbench infer` result."""
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (2, S, S, 3), dtype=np.uint8)
    refs = []
    for i in range(2):
        xp = os.path.join(tmp, "xb%d.npy" % i)
        yp = os.path.join(tmp, "yb%d.npy" % i)
        np.save(xp, x[i:i + 1])
        subprocess.run([cvb, "infer", "--model", model, "--input", xp, "--output", yp,
                        "--input-format", "u8-nhwc"], check=True, stdout=subprocess.DEVNULL)
        refs.append(np.load(yp))
    ref = np.concatenate(refs)
    print("-- serve-model --max-batch 8")
    srv = Server(cvb, model, tmp, "batch", "--threads", "1", "--max-batch", "8",
                 "--batch-timeout-us", "1000")
    cl = httpclient.InferenceServerClient(url="127.0.0.1:%d" % srv.port)
    try:
        mc = cl.get_model_config("m")
        db = mc.get("dynamic_batching", {})
        check(mc["max_batch_size"] == 8 and mc["input"][0]["dims"] == [S, S, 3] and
              db.get("preferred_batch_size") == [2, 4, 8] and
              int(db.get("max_queue_delay_microseconds", 0)) == 1000,
              "get_model_config: max_batch_size 8, dims [S,S,3], dynamic_batching %s" % db)
        mm = cl.get_model_metadata("m")
        check(mm["inputs"][0]["shape"] == [-1, S, S, 3], "get_model_metadata: shape [-1,S,S,3]")
        for binary in (True, False):
            inp = httpclient.InferInput("images", [2, S, S, 3], "UINT8")
            inp.set_data_from_numpy(x, binary_data=binary)
            r = cl.infer("m", [inp], outputs=[httpclient.InferRequestedOutput(
                "output0", binary_data=binary)])
            y = r.as_numpy("output0")
            e = rel_l2(y, ref) if y is not None and y.shape == ref.shape else float("inf")
            check(e <= 1e-5, "infer [2,S,S,3] (binary %s): shape %s, rel L2 %.2e vs two "
                  "cvbench infer runs" % (binary, None if y is None else y.shape, e))
        st = cl.get_inference_statistics("m")["model_stats"][0]
        check(int(st["inference_count"]) == 4 and int(st["execution_count"]) == 2 and
              [int(b["batch_size"]) for b in st["batch_stats"]] == [2],
              "get_inference_statistics: 4 items in 2 executions of batch 2")
    finally:
        cl.close()
        srv.stop()


def main():
    cvb, tmp, model = setup("cvb-serve-triton-")
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
    batching(cvb, tmp, model)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
