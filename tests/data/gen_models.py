# SPDX-License-Identifier: Apache-2.0
"""Generators for small ONNX models used by the tests: valid ones (seeds for
the fuzzer, controls for the bad-model test) and deliberately broken ones.

Nothing here is committed as a binary: tests build what they need in a temp
dir with the `onnx` package from the test venv (scripts/test-venv.sh).

Each bad_* generator returns the model bytes; BAD_CASES in
tests/integration/bad_models.py pairs them with the error keywords the CLI
must print.
"""
import random

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8  # what opset-17 exporters write; cvbench's onnx.proto (1.12) reads it
OPSET = 17


def _model(nodes, inputs, outputs, inits=(), opset=OPSET, name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="cvbench-tests")
    m.ir_version = IR_VERSION
    return m


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _w(name, shape, seed=0, scale=0.2):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


# ---- valid models ------------------------------------------------------------

def tiny_conv(opset=OPSET, cin=3, size=8):
    """X[1,cin,S,S] -> Conv 3x3 (4 out) -> SiLU (Sigmoid, Mul) -> Y[1,4,S,S]."""
    nodes = [
        helper.make_node("Conv", ["X", "W", "B"], ["c"], name="conv0",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["s"], name="sig0"),
        helper.make_node("Mul", ["c", "s"], ["Y"], name="mul0"),
    ]
    return _model(nodes, [_f32("X", [1, cin, size, size])], [_f32("Y", [1, 4, size, size])],
                  [_w("W", [4, 3, 3, 3]), _w("B", [4], 1)], opset=opset)


def mini_yolo(size=32):
    """A small graph with the op mix of a YOLO detection export: SiLU convs,
    a C2f-like Split/Concat, SPPF MaxPool, nearest Resize, a residual Add,
    the exporter's Shape->Gather->Unsqueeze->Concat->Reshape chain, a DFL-like
    Reshape/Transpose/Softmax, a MatMul, and Slice/Sub/Div arithmetic."""
    n = []
    inits = []

    def conv(x, cin, cout, k, s, name):
        inits.extend([_w(name + ".w", [cout, cin, k, k], len(inits)),
                      _w(name + ".b", [cout], len(inits) + 1)])
        p = k // 2
        n.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [name + ".c"],
                                  name=name, kernel_shape=[k, k], strides=[s, s],
                                  pads=[p, p, p, p]))
        n.append(helper.make_node("Sigmoid", [name + ".c"], [name + ".s"], name=name + ".sig"))
        n.append(helper.make_node("Mul", [name + ".c", name + ".s"], [name], name=name + ".mul"))
        return name

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    x = conv("images", 3, 8, 3, 2, "c0")                       # [1,8,S/2,S/2]
    x = conv(x, 8, 8, 3, 2, "c1")                              # [1,8,S/4,S/4]
    n.append(helper.make_node("Split", [x, const("split", np.array([4, 4], np.int64))],
                              ["a", "b"], name="split", axis=1))
    y = conv("b", 4, 4, 3, 1, "c2")
    n.append(helper.make_node("Add", ["b", y], ["res"], name="res"))
    n.append(helper.make_node("Concat", ["a", "b", "res"], ["cat"], name="cat", axis=1))
    x = conv("cat", 12, 8, 1, 1, "c3")
    n.append(helper.make_node("MaxPool", [x], ["mp"], name="mp", kernel_shape=[5, 5],
                              strides=[1, 1], pads=[2, 2, 2, 2]))
    n.append(helper.make_node("Resize", ["mp", "", const("scales", np.array(
        [1, 1, 2, 2], np.float32))], ["up"], name="up", mode="nearest",
        coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    q = size // 2
    # Shape -> Gather -> Unsqueeze -> Concat -> Reshape: [1,8,q,q] -> [1,8,q*q]
    n.append(helper.make_node("Shape", ["up"], ["shp"], name="shape"))
    n.append(helper.make_node("Gather", ["shp", const("i0", np.array(0, np.int64))], ["d0"],
                              name="gather", axis=0))
    n.append(helper.make_node("Unsqueeze", ["d0", const("ax0", np.array([0], np.int64))],
                              ["d0u"], name="unsq"))
    n.append(helper.make_node("Concat", ["d0u", const("rest", np.array([8, -1], np.int64))],
                              ["newshape"], name="shape_cat", axis=0))
    n.append(helper.make_node("Reshape", ["up", "newshape"], ["flat"], name="flat"))
    # DFL-like: [1,8,A] -> [1,2,4,A] -> transpose -> softmax over bins -> MatMul with 0..3
    n.append(helper.make_node("Reshape", ["flat", const("dfl_shape", np.array(
        [1, 2, 4, q * q], np.int64))], ["bins"], name="bins"))
    n.append(helper.make_node("Transpose", ["bins"], ["binsT"], name="binsT",
                              perm=[0, 1, 3, 2]))
    n.append(helper.make_node("Softmax", ["binsT"], ["prob"], name="softmax", axis=-1))
    n.append(helper.make_node("MatMul", ["prob", const("proj", np.arange(
        4, dtype=np.float32).reshape(4, 1))], ["dist"], name="proj"))
    n.append(helper.make_node("Slice", ["dist", const("s0", np.array([0], np.int64)),
                                        const("s1", np.array([1], np.int64)),
                                        const("sax", np.array([1], np.int64))], ["lt"],
                              name="slice"))
    n.append(helper.make_node("Sub", ["lt", const("half", np.array(0.5, np.float32))],
                              ["lt2"], name="sub"))
    n.append(helper.make_node("Div", ["lt2", const("two", np.array(2.0, np.float32))],
                              ["output0"], name="div"))
    return _model(n, [_f32("images", [1, 3, size, size])],
                  [_f32("output0", [1, 1, q * q, 1])], inits)


# ---- broken models -------------------------------------------------------------

def bad_conv_channels():
    """Conv whose weight expects 5 input channels on a 3-channel input."""
    nodes = [helper.make_node("Conv", ["X", "W"], ["Y"], name="conv_bad",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    return _model(nodes, [_f32("X", [1, 3, 8, 8])], [_f32("Y", [1, 4, 8, 8])],
                  [_w("W", [4, 5, 3, 3])]).SerializeToString()


def bad_huge_input():
    """An input declared with 10^12 elements (4 TB of float32)."""
    nodes = [helper.make_node("Sigmoid", ["X"], ["Y"], name="sig")]
    return _model(nodes, [_f32("X", [1000000, 1000000])],
                  [_f32("Y", [1000000, 1000000])]).SerializeToString()


def bad_resize_scale():
    """A nearest Resize whose constant scales make a side 1.2e21 long (the
    fuzzer found the float-to-int64 overflow this used to hit)."""
    scales = numpy_helper.from_array(np.array([1, 1, 1.5e20, 1], np.float32), "scales")
    nodes = [helper.make_node("Resize", ["X", "", "scales"], ["Y"], name="resize_huge",
                              mode="nearest")]
    return _model(nodes, [_f32("X", [1, 3, 8, 8])], [_f32("Y", [1, 3, 8, 8])],
                  [scales]).SerializeToString()


def bad_split_overflow():
    """A Split whose sizes are each non-negative but sum past INT64_MAX (the
    fuzzer found the signed overflow in their sum)."""
    big = 2**62
    split = numpy_helper.from_array(np.array([big, big, big, 8], np.int64), "split")
    nodes = [helper.make_node("Split", ["X", "split"], ["A", "B", "C", "D"], name="split_huge",
                              axis=1)]
    return _model(nodes, [_f32("X", [1, 8, 4, 4])],
                  [_f32(o, [1, 2, 4, 4]) for o in "ABCD"], [split]).SerializeToString()


def bad_huge_initializer():
    """An initializer declaring 10^12 elements but carrying 16 bytes."""
    t = TensorProto()
    t.name = "W"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([1000000, 1000000])
    t.raw_data = b"\0" * 16
    nodes = [helper.make_node("Add", ["X", "W"], ["Y"], name="add_huge")]
    return _model(nodes, [_f32("X", [1, 1])], [_f32("Y", [1000000, 1000000])],
                  [t]).SerializeToString()


def bad_underfilled_initializer():
    """A fuzzer find (133 bytes): an initializer declaring 576,000,000 float32
    elements (2.3 GB, under the 4 GiB tensor cap) with 16 bytes of raw_data.
    The loader used to allocate the declared size before comparing it with
    the bytes present."""
    t = TensorProto()
    t.name = "W_short"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([576000000])
    t.raw_data = b"\0" * 16
    nodes = [helper.make_node("Add", ["X", "W_short"], ["Y"], name="add_short")]
    return _model(nodes, [_f32("X", [1])], [_f32("Y", [576000000])],
                  [t]).SerializeToString()


def bad_fold_bomb():
    """A ConstantOfShape of [250000000] float32: constant folding would make
    1 GB from a ~150-byte file (it used to, up to a flat 1 GiB cap)."""
    shape = numpy_helper.from_array(np.array([250000000], np.int64), "bomb_shape")
    nodes = [helper.make_node("ConstantOfShape", ["bomb_shape"], ["B"], name="fold_bomb"),
             helper.make_node("Add", ["X", "B"], ["Y"], name="add_bomb")]
    return _model(nodes, [_f32("X", [1])], [_f32("Y", [250000000])],
                  [shape]).SerializeToString()


def bad_attr_string():
    """A Resize whose 'mode' attribute is a 100 KB string."""
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [helper.make_node("Resize", ["X", "", "scales"], ["Y"], name="resize_longattr",
                              mode="n" * 100000)]
    return _model(nodes, [_f32("X", [1, 3, 8, 8])], [_f32("Y", [1, 3, 16, 16])],
                  [scales]).SerializeToString()


def bad_cycle():
    """t1 = Add(X, t2); t2 = Sigmoid(t1): a cycle."""
    nodes = [helper.make_node("Add", ["X", "t2"], ["t1"], name="add_loop"),
             helper.make_node("Sigmoid", ["t1"], ["t2"], name="sig_loop")]
    return _model(nodes, [_f32("X", [1, 3, 8, 8])],
                  [_f32("t2", [1, 3, 8, 8])]).SerializeToString()


def bad_op(op_type):
    """A node whose op cvbench does not implement."""
    if op_type == "RoiAlign":
        nodes = [helper.make_node("RoiAlign", ["X", "rois", "idx"], ["Y"], name="roi")]
        ins = [_f32("X", [1, 3, 8, 8]), _f32("rois", [2, 4]),
               helper.make_tensor_value_info("idx", TensorProto.INT64, [2])]
        return _model(nodes, ins, [_f32("Y", [2, 3, 1, 1])]).SerializeToString()
    nodes = [helper.make_node(op_type, ["X"], ["Y"], name="mystery")]
    return _model(nodes, [_f32("X", [1, 3, 8, 8])],
                  [_f32("Y", [1, 3, 8, 8])]).SerializeToString()


def dyn_shrinking_bound():
    """Data-dependent shapes whose size shrinks as the count grows: M =
    NonZero(X > 0) count, then ConstantOfShape([8 - M]). cvbench plans the
    bound with every count at its largest (M = 4: [4]), so an input with
    fewer positives needs more than planned: a run-time error, not an
    overrun. ONNX Runtime allocates per run and gives [8 - M]."""
    eight = numpy_helper.from_array(np.array(8, np.int64), "eight")
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    zero1 = numpy_helper.from_array(np.array([0], np.int64), "zero1")
    fz = numpy_helper.from_array(np.array(0, np.float32), "fzero")
    nodes = [helper.make_node("Greater", ["X", "fzero"], ["pos"], name="pos"),
             helper.make_node("NonZero", ["pos"], ["nz"], name="nz"),
             helper.make_node("Shape", ["nz"], ["nzs"], name="nz_shape"),
             helper.make_node("Gather", ["nzs", "one"], ["m"], name="count", axis=0),
             helper.make_node("Sub", ["eight", "m"], ["rest"], name="rest"),
             helper.make_node("Unsqueeze", ["rest", "zero1"], ["rest1"], name="rest1"),
             helper.make_node("ConstantOfShape", ["rest1"], ["Y"], name="shrinking")]
    one = numpy_helper.from_array(np.array(1, np.int64), "one")
    del zero
    outs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None])]
    return _model(nodes, [_f32("X", [4])], outs, [eight, zero1, fz, one])


def dyn_gather_chain():
    """NonZero -> Transpose -> GatherND -> ReduceSum and a Concat of the
    gathered rows with their indices cast to float: the masked-select pattern
    of Ultralytics' nms=True head, small enough to check exactly."""
    ax = numpy_helper.from_array(np.array([0], np.int64), "ax0")
    fz = numpy_helper.from_array(np.array(0.5, np.float32), "thr")
    nodes = [helper.make_node("Greater", ["S", "thr"], ["keep"], name="keep"),
             helper.make_node("NonZero", ["keep"], ["nz"], name="nz"),
             helper.make_node("Transpose", ["nz"], ["idx"], name="idx", perm=[1, 0]),
             helper.make_node("GatherND", ["B", "idx"], ["rows"], name="rows"),
             helper.make_node("ReduceSum", ["rows", "ax0"], ["total"], name="total",
                              keepdims=1),
             helper.make_node("Cast", ["idx"], ["idxf"], name="idxf", to=TensorProto.FLOAT),
             helper.make_node("Concat", ["rows", "idxf"], ["sel"], name="sel", axis=1)]
    outs = [_f32("total", [1, 4]),
            helper.make_tensor_value_info("sel", TensorProto.FLOAT, [None, 5])]
    return _model(nodes, [_f32("S", [64]), _f32("B", [64, 4])], outs, [ax, fz])


def bad_opset(opset):
    return tiny_conv(opset=opset).SerializeToString()


def bad_dynamic_dims():
    """Input [1,3,height,width] with symbolic spatial dims."""
    m = tiny_conv()
    m.graph.input[0].type.tensor_type.shape.dim[2].ClearField("dim_value")
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    m.graph.input[0].type.tensor_type.shape.dim[3].ClearField("dim_value")
    m.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "width"
    for d in (2, 3):
        m.graph.output[0].type.tensor_type.shape.dim[d].dim_param = ["height", "width"][d - 2]
    return m.SerializeToString()


def truncate(data):
    return data[: len(data) // 2]


def bit_flip(data, rejects, seed=1, n_flips=8, max_tries=200):
    """Flip n_flips seeded bits of 'data'. Tries seeds from 'seed' on until
    rejects(bytes) says the result is really broken (so the test does not
    depend on a flip that happened to land in weight data); returns
    (bytes, seed used)."""
    for s in range(seed, seed + max_tries):
        rng = random.Random(s)
        b = bytearray(data)
        for _ in range(n_flips):
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
        b = bytes(b)
        if rejects(b):
            return b, s
    raise RuntimeError("no seed produced a model that is rejected")


PNG_BYTES = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
             b"\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01"
             b"\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
TEXT_BYTES = b"This is not a model.\nJust some text someone saved with a .onnx name.\n"


def ort_rejects(data):
    """True when ONNX Runtime refuses to load 'data' (used as the oracle for
    'really broken')."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 4
    try:
        ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    except Exception:
        return True
    return False


def check_valid(model):
    onnx.checker.check_model(model, full_check=True)
    return model
