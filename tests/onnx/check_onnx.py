"""Loads bpnn's exported ONNX models in a real runtime and compares its outputs with `bpnn predict`.

usage: check_onnx.py checker|opencv MANIFEST.json   (written by onnx_make_models)

checker: Debian's python3-onnx — onnx.checker.check_model (full check, with shape inference), the
         opset, names and metadata, then a numpy evaluation of the graph's nodes from its
         initializers (onnx 1.12 has no reference evaluator).
opencv:  OpenCV's DNN module (cv2.dnn.readNetFromONNX), f32 models only: OpenCV 4.6 cannot load
         DOUBLE tensors.

Outputs must agree with bpnn's to max |Δ| ≤ 1e-5·max(1, |y|). Exits 77 (ctest's skip code) with
a message when the runtime is not installed.
"""
import json
import sys

SKIP = 77
TOLERANCE = 1e-5


def skip(message):
    print("SKIP: " + message)
    sys.exit(SKIP)


try:
    import numpy as np
except ImportError:
    skip("numpy is not installed for %s (Debian: apt-get install python3-numpy)" % sys.executable)


def read_csv(path, dtype):
    """A CSV file with a header row as a (rows, columns) array."""
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=dtype, ndmin=2)


def compare(name, runtime, got, expected):
    got = np.asarray(got, dtype=np.float64).reshape(expected.shape)
    bound = TOLERANCE * np.maximum(1.0, np.abs(expected))
    diff = np.abs(got - expected)
    worst = float(np.max(diff / bound))
    ok = np.all(diff <= bound) and np.all(np.isfinite(got))
    print("%-20s %-14s max|Δ| %.3g (%.3g of the bound)  %s"
          % (name, runtime, float(np.max(diff)), worst, "ok" if ok else "MISMATCH"))
    return ok


def numpy_evaluate(graph, x):
    """Evaluates the graph's nodes in order with numpy: the ops bpnn exports, nothing else."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    values[graph.input[0].name] = x
    for node in graph.node:
        attrs = {a.name: a for a in node.attribute}
        a = [values[i] for i in node.input]
        if node.op_type == "Sub":
            y = a[0] - a[1]
        elif node.op_type == "Mul":
            y = a[0] * a[1]
        elif node.op_type == "Gemm":
            assert attrs["transB"].i == 1 and "transA" not in attrs, "unexpected Gemm attributes"
            y = a[0] @ a[1].T + a[2]
        elif node.op_type == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-a[0]))
        elif node.op_type == "Tanh":
            y = np.tanh(a[0])
        elif node.op_type == "Relu":
            y = np.maximum(a[0], 0)
        elif node.op_type == "Softmax":
            assert attrs["axis"].i == 1, "softmax over the wrong axis"
            e = np.exp(a[0] - a[0].max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
        else:
            raise AssertionError("unexpected op " + node.op_type)
        assert y.dtype == x.dtype, "%s changed the dtype to %s" % (node.name, y.dtype)
        values[node.output[0]] = y
    return values[graph.output[0].name]


def check_with_onnx(model_spec):
    import onnx

    model = onnx.load(model_spec["onnx"])
    onnx.checker.check_model(model, full_check=True)
    elem = onnx.TensorProto.DOUBLE if model_spec["precision"] == "f64" else onnx.TensorProto.FLOAT
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)], model.opset_import
    assert model.producer_name == "bpnn"
    graph = model.graph
    for io, width in ((graph.input[0], model_spec["n_inputs"]), (graph.output[0], model_spec["n_outputs"])):
        t = io.type.tensor_type
        assert t.elem_type == elem, "%s: element type %d" % (io.name, t.elem_type)
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        assert dims == ["N", width], "%s: shape %s" % (io.name, dims)
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    assert all(t.data_type == elem for t in graph.initializer), "an initializer of the wrong type"
    ops = [n.op_type for n in graph.node]
    assert (ops[:2] == ["Sub", "Mul"]) == model_spec["scaled"], ops
    metadata = {p.key: p.value for p in model.metadata_props}
    for key, value in model_spec["metadata"].items():
        assert json.loads(metadata.get(key, "null")) == json.loads(value), "metadata %s: %r" % (key, metadata.get(key))

    dtype = np.float64 if model_spec["precision"] == "f64" else np.float32
    x = read_csv(model_spec["inputs"], dtype)
    return compare(model_spec["name"], "onnx+numpy", numpy_evaluate(graph, x),
                   read_csv(model_spec["expected"], np.float64))


def check_with_opencv(model_spec):
    import cv2

    net = cv2.dnn.readNetFromONNX(model_spec["onnx"])
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.setInput(read_csv(model_spec["inputs"], np.float32))
    return compare(model_spec["name"], "opencv " + cv2.__version__, net.forward(),
                   read_csv(model_spec["expected"], np.float64))


def main():
    mode, manifest_path = sys.argv[1], sys.argv[2]
    with open(manifest_path) as f:
        manifest = json.load(f)
    if mode == "checker":
        try:
            import onnx
        except ImportError:
            skip("the onnx Python package is not installed for %s (Debian: apt-get install python3-onnx)"
                 % sys.executable)
        print("onnx %s from %s" % (onnx.__version__, onnx.__file__))
        shown = next((m for m in manifest if m["scaled"]), manifest[0])  # one graph, for the log
        print(onnx.helper.printable_graph(onnx.load(shown["onnx"]).graph))
        check = check_with_onnx
    elif mode == "opencv":
        try:
            import cv2  # noqa: F401
        except ImportError:
            skip("OpenCV's Python module is not installed for %s (Debian: apt-get install python3-opencv)"
                 % sys.executable)
        manifest = [m for m in manifest if m["precision"] == "f32"]
        check = check_with_opencv
    else:
        sys.exit("unknown mode " + mode)
    failed = [m["name"] for m in manifest if not check(m)]
    if failed:
        sys.exit("outputs differ from bpnn predict: " + ", ".join(failed))
    print("%d models agree with bpnn predict" % len(manifest))


if __name__ == "__main__":
    main()
