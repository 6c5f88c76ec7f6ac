# SPDX-License-Identifier: Apache-2.0
"""Issue 12: what cvbench does with the exports of export_u84.py.

For every <name>.onnx in DIR (with its input-<imgsz>.npy and <name>.ort.npy):
op histogram, inputs/outputs, the ops cvbench's IR lacks (CVB_OP_LIST of
src/engine/ir.h) with every distinct attribute/dtype/constant-input signature,
what `cvbench model info` and `cvbench infer` (both kernel sets) print (error
text, warnings, relative L2 vs ONNX Runtime), for the models that run the
latency of `cvbench infer --threads 2 --repeat R` against an ONNX Runtime
session with intra_op_num_threads=2 (interleaved rounds, same machine), and
for each "running without fusion" warning the subgraph around the named Conv
(its input's producer, the Add it feeds, that Add's other input's producer).

Writes DIR/analysis.json and prints a summary. Runs with a python that has
numpy, onnx, onnxruntime (e.g. the export venv).

Usage: analyze_u84.py --cvbench build/cvbench --ir src/engine/ir.h --dir /work/u84
                      [--rounds 3] [--repeat 20] [--only NAME]...
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper, shape_inference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differential import rel_l2  # noqa: E402

DT = {v: k for k, v in onnx.TensorProto.DataType.items()}


def supported_ops(ir_h):
    with open(ir_h) as f:
        return set(re.findall(r'X\(\w+,\s*"(\w+)"\)', f.read()))


def attr_value(a):
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, onnx.TensorProto):
        arr = numpy_helper.to_array(v)
        return {"tensor": DT.get(v.data_type), "shape": list(arr.shape),
                "value": arr.ravel()[:8].tolist()}
    if isinstance(v, list):
        return [x.decode() if isinstance(x, bytes) else x for x in v]
    return v


class Graph:
    def __init__(self, model):
        self.model = shape_inference.infer_shapes(model)
        g = self.model.graph
        self.nodes = list(g.node)
        self.init = {t.name: t for t in g.initializer}
        self.types = {}
        for v in list(g.input) + list(g.output) + list(g.value_info):
            t = v.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                    for d in t.shape.dim]
            self.types[v.name] = (DT.get(t.elem_type, str(t.elem_type)), dims)
        for t in g.initializer:
            self.types[t.name] = (DT.get(t.data_type), list(t.dims))
        self.producer = {}
        self.consumers = {}
        for n in self.nodes:
            for o in n.output:
                self.producer[o] = n
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.const = {}
        for n in self.nodes:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        self.const[n.output[0]] = numpy_helper.to_array(a.t)

    def value(self, name):
        if name in self.init:
            return numpy_helper.to_array(self.init[name])
        return self.const.get(name)

    def describe_input(self, name):
        if name == "":
            return {"absent": True}
        dt, shape = self.types.get(name, (None, None))
        d = {"dtype": dt, "shape": shape}
        v = self.value(name)
        if v is not None:
            d["const"] = v.ravel()[:8].tolist() if v.size <= 8 else f"{v.size} values"
        else:
            p = self.producer.get(name)
            d["from"] = p.op_type if p is not None else "graph input"
        return d

    def describe_output(self, name):
        dt, shape = self.types.get(name, (None, None))
        return {"dtype": dt, "shape": shape}


def new_op_signatures(gr, supported):
    """op -> list of {signature, count, nodes (first 3)}."""
    sigs = {}
    for n in gr.nodes:
        if n.op_type in supported:
            continue
        attrs = {a.name: attr_value(a) for a in n.attribute}
        ins = [gr.describe_input(i) for i in n.input]
        outs = [gr.describe_output(o) for o in n.output]
        key = json.dumps({"attrs": attrs, "inputs": ins, "outputs": outs}, sort_keys=True,
                         default=str)
        by = sigs.setdefault(n.op_type, {})
        e = by.setdefault(key, {"attrs": attrs, "inputs": ins, "outputs": outs, "count": 0,
                                "nodes": []})
        e["count"] += 1
        if len(e["nodes"]) < 3:
            e["nodes"].append(n.name)
    return {op: list(v.values()) for op, v in sorted(sigs.items())}


def node_brief(gr, n):
    if n is None:
        return None
    return {"name": n.name, "op": n.op_type,
            "inputs": [{"name": i, **gr.describe_input(i)} for i in n.input],
            "outputs": [{"name": o, **gr.describe_output(o)} for o in n.output]}


def fallback_context(gr, conv_name):
    conv = next((n for n in gr.nodes if n.name == conv_name), None)
    if conv is None:
        return {"error": f"node {conv_name} not in graph"}
    ctx = {"conv": node_brief(gr, conv),
           "conv_attrs": {a.name: attr_value(a) for a in conv.attribute},
           "conv_input_producer": node_brief(gr, gr.producer.get(conv.input[0]))}
    p = gr.producer.get(conv.input[0])
    if p is not None and p.op_type == "Add":
        ctx["conv_input_producer_inputs"] = [node_brief(gr, gr.producer.get(i))
                                             for i in p.input]
    cons = gr.consumers.get(conv.output[0], [])
    ctx["conv_consumers"] = [c.op_type + " " + c.name for c in cons]
    add = next((c for c in cons if c.op_type == "Add"), None)
    if add is not None:
        ctx["add"] = node_brief(gr, add)
        other = [i for i in add.input if i != conv.output[0]]
        if other:
            op = gr.producer.get(other[0])
            ctx["add_other_producer"] = node_brief(gr, op)
            if op is not None:
                ctx["add_other_producer_input_producers"] = [
                    (gr.producer[i].op_type + " " + gr.producer[i].name) if i in gr.producer
                    else ("initializer" if i in gr.init else "graph input") for i in op.input]
        ctx["add_consumers"] = [c.op_type + " " + c.name for c in gr.consumers.get(add.output[0], [])]
    return ctx


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, errors="backslashreplace")
    return p.returncode, p.stdout, p.stderr


def lines_with(text, *words):
    return [l for l in text.splitlines() if any(w in l for w in words)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--ir", required=True, help="src/engine/ir.h (the supported op list)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--only", action="append")
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args()
    supported = supported_ops(args.ir)
    files = sorted(glob.glob(os.path.join(args.dir, "*.onnx")))
    if args.only:
        files = [f for f in files if os.path.basename(f)[:-5] in args.only]
    if not files:
        print(f"analyze_u84: no .onnx in {args.dir}", file=sys.stderr)
        return 2
    out_path = os.path.join(args.dir, "analysis.json")
    result = {}
    if args.only and os.path.exists(out_path):
        with open(out_path) as f:
            result = json.load(f)
    for path in files:
        name = os.path.basename(path)[:-5]
        m = onnx.load(path)
        gr = Graph(m)
        size = m.graph.input[0].type.tensor_type.shape.dim[2].dim_value
        xin = os.path.join(args.dir, f"input-{size}.npy")
        ref = np.load(os.path.join(args.dir, f"{name}.ort.npy"))
        r = {"ops": {}, "io": {}, "missing_ops": [], "info": {}, "infer": {}}
        for n in gr.nodes:
            r["ops"][n.op_type] = r["ops"].get(n.op_type, 0) + 1
        r["ops"] = dict(sorted(r["ops"].items()))
        r["io"] = {"inputs": [{"name": v.name, **gr.describe_output(v.name)} for v in m.graph.input],
                   "outputs": [{"name": v.name, **gr.describe_output(v.name)}
                               for v in m.graph.output]}
        r["missing_ops"] = sorted(o for o in r["ops"] if o not in supported)
        r["new_ops"] = new_op_signatures(gr, supported)
        rc, so, se = run([args.cvbench, "model", "info", path])
        r["info"] = {"rc": rc, "stderr": se.strip().splitlines()[-3:]}
        loaded = False
        warnings = []
        for k in ("onednn", "ref"):
            y = f"/tmp/analyze-u84-{os.getpid()}-{k}.npy"
            rc, so, se = run([args.cvbench, "infer", "--model", path, "--input", xin,
                              "--output", y, "--kernels", k])
            e = {"rc": rc, "stderr": se.strip().splitlines()[-3:]}
            if rc == 0:
                yy = np.load(y)
                os.unlink(y)
                e["shape"] = list(yy.shape)
                e["rel_l2"] = rel_l2(yy, ref) if yy.shape == ref.shape else None
                e["max_abs"] = float(np.abs(yy.astype(np.float64) - ref).max()) \
                    if yy.shape == ref.shape else None
                loaded = True
            warnings += lines_with(se, "warn", "fall back", "without fusion")
            r["infer"][k] = e
        r["warnings"] = sorted(set(warnings))
        r["fallback"] = []
        for w in r["warnings"]:
            mm = re.search(r'node "([^"]+)" \((\w+)\)', w)
            if mm:
                r["fallback"].append({"warning": w, "context": fallback_context(gr, mm.group(1))})
        if loaded and not args.no_timing:
            so_ = ort.SessionOptions()
            so_.intra_op_num_threads = 2
            so_.inter_op_num_threads = 1
            so_.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(path, so_, providers=["CPUExecutionProvider"])
            x = np.load(xin)
            iname = sess.get_inputs()[0].name
            for _ in range(3):
                sess.run(None, {iname: x})
            cvb_med, cvb_min, ort_med, ort_min = [], [], [], []
            for _ in range(args.rounds):
                rc, so, se = run([args.cvbench, "infer", "--model", path, "--threads", "2",
                                  "--repeat", str(args.repeat)])
                if rc == 0:
                    j = json.loads(so.strip().splitlines()[-1])
                    cvb_med.append(j["median_ms"])
                    cvb_min.append(j["min_ms"])
                ts = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    sess.run(None, {iname: x})
                    ts.append((time.perf_counter() - t0) * 1e3)
                ort_med.append(float(np.median(ts)))
                ort_min.append(float(np.min(ts)))
            r["latency_ms"] = {"cvbench_median": cvb_med, "cvbench_min": cvb_min,
                               "ort_median": ort_med, "ort_min": ort_min,
                               "ratio_min": (min(cvb_min) / min(ort_min)) if cvb_min else None,
                               "ratio_median": (float(np.median(cvb_med)) /
                                                float(np.median(ort_med))) if cvb_med else None}
        result[name] = r
        inf = r["infer"]
        lat = r.get("latency_ms", {})
        print(f"{name:18} missing={r['missing_ops']} info rc={r['info']['rc']} "
              f"onednn={inf['onednn'].get('rel_l2', inf['onednn']['stderr'][-1:] )} "
              f"ref={inf['ref'].get('rel_l2', '-')} "
              f"ratio_min={lat.get('ratio_min')} ratio_med={lat.get('ratio_median')} "
              f"warn={len(r['warnings'])}", flush=True)
        with open(out_path, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
