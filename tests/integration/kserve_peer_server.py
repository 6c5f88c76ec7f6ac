#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A KServe v2 server nobody here wrote: KServe's own Python ModelServer
(PyPI kserve, pinned in scripts/test-venv.sh) serving one ONNX model
through onnxruntime, for tests/integration/kserve_peer.py.

    kserve_peer_server.py --model M.onnx --name NAME --port P [--threads N]

The model class declares the ONNX graph's inputs and outputs as the v2
model metadata (dynamic dims as -1; float tensors as FP32) and runs
onnxruntime on each request. Everything on the wire (REST routes, the
binary tensor extension: Inference-Header-Content-Length, binary_data_size
inputs, binary_data_output / per-output binary_data) is KServe's code, not
ours. HTTP only, on 127.0.0.1 (KServe hard-codes 0.0.0.0: its REST server
class is swapped for a subclass that binds loopback), no gRPC, one worker.
Writes nothing to disk. SIGTERM / SIGINT stop uvicorn and exit 0."""
import argparse
import os
import sys

ORT_TO_V2 = {"tensor(float)": "FP32", "tensor(float16)": "FP16", "tensor(double)": "FP64",
             "tensor(uint8)": "UINT8", "tensor(int8)": "INT8", "tensor(int32)": "INT32",
             "tensor(int64)": "INT64", "tensor(bool)": "BOOL"}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="ONNX file")
    ap.add_argument("--name", required=True, help="model name in /v2/models/{name}")
    ap.add_argument("--port", required=True, type=int, help="HTTP port on 127.0.0.1")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    a = ap.parse_args()
    if not os.path.isfile(a.model):
        ap.error("--model %s: no such file" % a.model)
    if not 0 < a.port < 65536:
        ap.error("--port %d: not a TCP port" % a.port)
    return a


def main():
    a = parse_args()
    # kserve parses sys.argv when imported (its own --model_name, --http_port,
    # ... with prefix matching): hide ours from it.
    sys.argv = sys.argv[:1]
    import numpy as np
    import onnxruntime as ort
    import kserve
    import kserve.model_server
    from kserve import InferOutput, InferRequest, InferResponse
    from kserve.errors import InvalidInput
    from kserve.protocol.rest.server import RESTServer
    from kserve.utils.utils import generate_uuid

    class LoopbackRESTServer(RESTServer):
        """KServe's REST server, bound to 127.0.0.1 instead of 0.0.0.0."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.config.host = "127.0.0.1"  # the Config object its uvicorn Server holds

    kserve.model_server.RESTServer = LoopbackRESTServer

    def dims(shape):
        return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]

    class OnnxModel(kserve.Model):
        """One ONNX file run by onnxruntime (CPU), v2 metadata from its graph."""

        def __init__(self, name, path, threads):
            super().__init__(name)
            self.path = path
            self.threads = threads
            self.sess = None

        def load(self):
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            self.sess = ort.InferenceSession(self.path, so, providers=["CPUExecutionProvider"])
            self.ins = [{"name": t.name, "datatype": ORT_TO_V2.get(t.type, t.type),
                         "shape": dims(t.shape)} for t in self.sess.get_inputs()]
            self.outs = [{"name": t.name, "datatype": ORT_TO_V2.get(t.type, t.type),
                          "shape": dims(t.shape)} for t in self.sess.get_outputs()]
            self.ready = True
            return self.ready

        def get_input_types(self):
            return self.ins

        def get_output_types(self):
            return self.outs

        async def predict(self, payload, headers=None, response_headers=None):
            if not isinstance(payload, InferRequest):
                raise InvalidInput("model '%s' takes v2 inference requests only" % self.name)
            feeds = {}
            for spec in self.ins:
                got = [i for i in payload.inputs if i.name == spec["name"]]
                if len(got) != 1:
                    raise InvalidInput("model '%s': input '%s' missing" % (self.name, spec["name"]))
                i = got[0]
                shape = list(i.shape)
                if i.datatype != spec["datatype"] or len(shape) != len(spec["shape"]) or any(
                        w not in (-1, g) for w, g in zip(spec["shape"], shape)):
                    raise InvalidInput("model '%s' input '%s': %s %s, expected %s %s" % (
                        self.name, i.name, i.datatype, shape, spec["datatype"], spec["shape"]))
                feeds[i.name] = np.ascontiguousarray(i.as_numpy().reshape(shape))
            if len(payload.inputs) != len(self.ins):
                raise InvalidInput("model '%s': %d inputs, expected %d" % (
                    self.name, len(payload.inputs), len(self.ins)))
            ys = self.sess.run(None, feeds)
            outs = [InferOutput(name=s["name"], shape=list(y.shape), datatype=s["datatype"], data=y)
                    for s, y in zip(self.outs, ys)]
            # the encoding (binary or JSON, per output) is KServe's, from the
            # request; a response id is required by its JSON response schema
            return InferResponse(response_id=payload.id or generate_uuid(), model_name=self.name, infer_outputs=outs,
                                 use_binary_outputs=payload.use_binary_outputs,
                                 requested_outputs=payload.request_outputs)

    m = OnnxModel(a.name, a.model, a.threads)
    m.load()
    kserve.ModelServer(http_port=a.port, enable_grpc=False, workers=1).start([m])
    return 0


if __name__ == "__main__":
    sys.exit(main())
