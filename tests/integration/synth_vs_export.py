# SPDX-License-Identifier: Apache-2.0
"""Compare a `cvbench model synth` file with a real Ultralytics ONNX export, node for node.

Checks, and prints every difference found (exit 1 if any, 0 if none):
  - op histogram and node count;
  - node names (each name only on one side is a difference);
  - per node present on both sides: op, attributes, the outputs' names, and
    the wiring of every input: the producing node's name (and which output),
    a graph input, or an initializer (its dims; int64 initializers also by
    value: shape constants, Slice bounds);
  - graph outputs (names, shapes);
  - with --cvbench: `cvbench model info --json` of both files (parameters,
    gflops, op histogram, head type, nodes after folding) must agree.
Float initializer values are not compared (the real exports carry random
weights, ours synthetic ones). Reported but not counted as differences: the
node order (onnxslim's topological order interleaves parallel branches, ours
writes each branch in turn; both are valid orders of the same graph) and how
the constants are stored (initializer count and elements: the exporter
shares some, ours names one per use; `model info`'s parameter count is the
one compared).

--strip-model-scope: the export wraps the model in a "/model" scope (an
nms=True export: node "/model/model.22/..." is the plain export's
"/model.22/...", parameter "model.model.X" is "model.X"); its names are
unwrapped before comparing. --prefix P (repeatable): compare only nodes whose
(unwrapped) name starts with P on both sides, e.g. "/model." to leave out the
NMS tail; the histogram, order and outputs are then those of the selection.

Usage: synth_vs_export.py SYNTH.onnx REAL.onnx [--cvbench build/cvbench]
                          [--strip-model-scope] [--prefix P]... [--max N]
Needs the onnx package (any python that has it: /work/uvenv/bin/python).
"""
import argparse
import collections
import json
import subprocess
import sys

import onnx
from onnx import numpy_helper


def unwrap(name, strip):
    if not strip:
        return name
    if name.startswith("/model/"):
        return name[len("/model"):]
    if name.startswith("model.model."):
        return name[len("model."):]
    return name


def load(path, strip, prefixes):
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    ginputs = {i.name for i in g.input}
    prod = {}
    for n in g.node:
        for k, o in enumerate(n.output):
            prod[o] = (unwrap(n.name, strip), k)
    nodes = collections.OrderedDict()
    for n in g.node:
        name = unwrap(n.name, strip)
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        ins = []
        for i in n.input:
            if i == "":
                ins.append(("none",))
            elif i in inits:
                t = inits[i]
                val = None
                if t.data_type == onnx.TensorProto.INT64:
                    val = tuple(int(v) for v in numpy_helper.to_array(t).ravel())
                ins.append(("init", tuple(t.dims), t.data_type, val))
            elif i in prod:
                ins.append(("node",) + prod[i])
            elif i in ginputs:
                ins.append(("graph", i))
            else:
                ins.append(("dangling", i))
        attrs = {}
        for a in n.attribute:
            v = onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, list):
                v = tuple(x.decode() if isinstance(x, bytes) else x for x in v)
            elif isinstance(v, float):
                v = round(v, 6)
            attrs[a.name] = v
        outs = [unwrap(o, strip) for o in n.output]
        if name in nodes:
            name = name + "#dup"
        nodes[name] = (n.op_type, ins, attrs, outs)
    outputs = [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim]) for o in g.output]
    n_elem = 0
    for t in g.initializer:
        k = 1
        for d in t.dims:
            k *= d
        n_elem += k
    return nodes, outputs, len(g.initializer), n_elem


def info(cvbench, path):
    r = subprocess.run([cvbench, "model", "info", "--json", path], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()}
    j = json.loads(r.stdout)
    return {k: j.get(k) for k in ("parameters", "gflops", "ops", "nodes", "nodes_after_folding",
                                  "outputs", "head", "data_dependent_nodes")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("synth")
    ap.add_argument("real")
    ap.add_argument("--cvbench")
    ap.add_argument("--strip-model-scope", action="store_true")
    ap.add_argument("--prefix", action="append", default=[])
    ap.add_argument("--max", type=int, default=40, help="differences printed per kind")
    a = ap.parse_args()
    A, oa, ia, ea = load(a.synth, False, a.prefix)
    B, ob, ib, eb = load(a.real, a.strip_model_scope, a.prefix)
    diffs = []
    ha = collections.Counter(v[0] for v in A.values())
    hb = collections.Counter(v[0] for v in B.values())
    if ha != hb:
        diffs.append(f"histogram: synth has +{dict(ha - hb)}, real has +{dict(hb - ha)}")
    only_a = [k for k in A if k not in B]
    only_b = [k for k in B if k not in A]
    for k in only_a[:a.max]:
        diffs.append(f"only in synth: {k} ({A[k][0]})")
    for k in only_b[:a.max]:
        diffs.append(f"only in real: {k} ({B[k][0]})")
    if len(only_a) > a.max or len(only_b) > a.max:
        diffs.append(f"... {len(only_a)} names only in synth, {len(only_b)} only in real")
    n_node = 0
    for k in A:
        if k not in B:
            continue
        x, y = A[k], B[k]
        d = []
        if x[0] != y[0]:
            d.append(f"op {x[0]} vs {y[0]}")
        if len(x[1]) != len(y[1]):
            d.append(f"inputs {x[1]} vs {y[1]}")
        else:
            for i, (p, q) in enumerate(zip(x[1], y[1])):
                if p != q:
                    d.append(f"in{i} {p} vs {q}")
        if x[2] != y[2]:
            d.append(f"attrs {x[2]} vs {y[2]}")
        if x[3] != y[3]:
            d.append(f"outputs {x[3]} vs {y[3]}")
        if d:
            n_node += 1
            if n_node <= a.max:
                diffs.append(f"{k}: " + "; ".join(d))
    if n_node > a.max:
        diffs.append(f"... {n_node} nodes differ")
    notes = []
    la = [k for k in A if k in B]
    lb = [k for k in B if k in A]
    same = sum(1 for p, q in zip(la, lb) if p == q)
    notes.append(f"order: {same} of {len(la)} common nodes at the same position")
    if not a.prefix:
        if oa != ob:
            diffs.append(f"graph outputs {oa} vs {ob}")
        notes.append(f"initializers: synth {ia} ({ea} elements), real {ib} ({eb} elements)")
    if a.cvbench:
        fa, fb = info(a.cvbench, a.synth), info(a.cvbench, a.real)
        for k in fa:
            if a.prefix and k in ("ops", "nodes", "nodes_after_folding", "data_dependent_nodes"):
                continue
            if fa[k] != fb[k]:
                diffs.append(f"model info {k}: synth {fa[k]} vs real {fb[k]}")
    print(f"{a.synth} vs {a.real}: {len(A)} vs {len(B)} nodes"
          + (f" (prefixes {a.prefix})" if a.prefix else "")
          + f", {sum(ha.values())} ops, {len(diffs)} differences")
    for d in diffs:
        print("  " + d)
    for n in notes:
        print("  (note) " + n)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
