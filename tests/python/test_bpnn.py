"""tools/python/bpnn.py against the built libbpnn.so (BPNN_LIBRARY), with unittest only."""
import gc
import os
import sys
import tempfile
import threading
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "python"))
import bpnn  # noqa: E402

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def forward(net, x):
    """The network's output by numpy, from its layers: an independent reference for predict."""
    acts = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
            "relu": lambda z: np.maximum(z, 0), "linear": lambda z: z,
            "softmax": lambda z: np.exp(z - z.max(1, keepdims=True)) /
            np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)}
    hidden, output = net.activations
    a = np.asarray(x, dtype=np.float64)
    for layer in range(net.n_layers):
        w, b = net.get_layer(layer)
        a = acts[output if layer == net.n_layers - 1 else hidden](a @ w.T + b)
    return a


class TestBinding(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_version(self):
        major, minor, patch = (int(p) for p in bpnn.version().split("."))
        self.assertEqual(bpnn.version_number(), major * 10000 + minor * 100 + patch)
        if "BPNN_LIBRARY" in os.environ:
            self.assertEqual(bpnn.library_path, os.environ["BPNN_LIBRARY"])

    def test_create_and_shape(self):
        with bpnn.Network([4, 8, 3], hidden_act="relu", output_act="softmax", loss="xent",
                          precision="f64", init="he", seed=7) as net:
            self.assertEqual(net.sizes, [4, 8, 3])
            self.assertEqual((net.n_inputs, net.n_outputs, net.n_layers), (4, 3, 2))
            self.assertEqual(net.n_params, 5 * 8 + 9 * 3)
            self.assertEqual(net.precision, "f64")
            self.assertEqual(net.dtype, np.float64)
            self.assertEqual(net.activations, ("relu", "softmax"))
            self.assertEqual(net.loss, "xent")
            x = np.random.default_rng(0).normal(size=(10, 4))
            y = net.predict(x)
            self.assertEqual(y.shape, (10, 3))
            self.assertEqual(y.dtype, np.float64)
            np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-12)
            np.testing.assert_allclose(y, forward(net, x), rtol=1e-12, atol=1e-15)
            self.assertEqual(net.predict(x[0]).shape, (3,))

    def test_f32_predict_matches_numpy(self):
        net = bpnn.Network([3, 5, 2], hidden_act="tanh", output_act="sigmoid", seed=4)
        x = np.linspace(-1, 1, 12).reshape(4, 3)
        y = net.predict(x)
        self.assertEqual(y.dtype, np.float32)
        np.testing.assert_allclose(y, forward(net, x), rtol=1e-5, atol=1e-6)
        net.close()

    def test_xor_trains_and_callback_sees_every_epoch(self):
        net = bpnn.Network([2, 4, 1], precision="f64", init="uniform", init_scale=1.0, seed=3)
        seen = []
        report = net.train(XOR_X, XOR_Y, learning_rate=2.0, momentum=0.5, epochs=3000,
                           on_epoch=lambda s: seen.append(s) and False)
        self.assertEqual(report["epochs_run"], 3000)
        self.assertFalse(report["stopped_by_callback"])
        self.assertEqual([s["epoch"] for s in seen], list(range(3000)))
        self.assertEqual(report["final_loss"], seen[-1]["loss"])
        self.assertLess(seen[-1]["loss"], seen[0]["loss"] / 10)
        out = net.predict(XOR_X).ravel()
        self.assertTrue(out[0] < 0.5 < out[1] and out[2] > 0.5 > out[3], out)

    def test_callback_stops_training(self):
        net = bpnn.Network([2, 3, 1])
        report = net.train(XOR_X, XOR_Y, epochs=100, on_epoch=lambda s: s["epoch"] == 4)
        self.assertEqual(report["epochs_run"], 5)
        self.assertTrue(report["stopped_by_callback"])

    def test_callback_exception_propagates(self):
        net = bpnn.Network([2, 3, 1])

        def boom(stats):
            raise KeyError("from the callback")
        with self.assertRaises(KeyError):
            net.train(XOR_X, XOR_Y, epochs=100, on_epoch=boom)

    def test_errors_carry_status_and_message(self):
        with self.assertRaises(bpnn.Error) as e:
            bpnn.Network([2, 0, 1])
        self.assertEqual(e.exception.status, bpnn.ERR_ARG)
        self.assertEqual(e.exception.status_name, "BPNN_ERR_ARG")
        self.assertIn("width 1 is zero", str(e.exception))
        with self.assertRaises(bpnn.Error) as e:
            bpnn.Network([])
        self.assertIn("config->n_sizes", str(e.exception))
        with self.assertRaises(ValueError):
            bpnn.Network([2, 1], hidden_act="swish")
        net = bpnn.Network([2, 1])
        with self.assertRaises(bpnn.Error) as e:
            net.predict(np.zeros((3, 5)))
        self.assertEqual(e.exception.status, bpnn.ERR_ARG)
        with self.assertRaises(bpnn.Error) as e:
            net.train(np.zeros((3, 2)), np.zeros((3, 1)), batch=0)
        self.assertIn("config->batch", str(e.exception))
        with self.assertRaises(bpnn.Error) as e:
            net.train(np.array([[0, np.nan]]), np.zeros((1, 1)))
        self.assertEqual(e.exception.status, bpnn.ERR_ARG)
        self.assertIn("not finite", str(e.exception))
        with self.assertRaises(bpnn.Error) as e:
            net.get_layer(1)
        with self.assertRaises(bpnn.Error) as e:
            net.set_layer(0, np.zeros(3), np.zeros(1))
        self.assertIn("weights: expected shape (1, 2) (out, in), got (3,)", str(e.exception))

    def test_missing_and_corrupt_files(self):
        with self.assertRaises(bpnn.Error) as e:
            bpnn.Network.load(self.path("missing.safetensors"))
        self.assertEqual(e.exception.status, bpnn.ERR_IO)
        self.assertIn("missing.safetensors", str(e.exception))
        with open(self.path("corrupt.safetensors"), "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
        with self.assertRaises(bpnn.Error) as e:
            bpnn.Network.load(self.path("corrupt.safetensors"))
        self.assertEqual(e.exception.status, bpnn.ERR_FORMAT)

    def test_nonfinite(self):
        net = bpnn.Network([1, 1], output_act="linear", precision="f64")
        with self.assertRaises(bpnn.Error) as e:
            net.train([[1000.0], [-1000.0], [500.0]], [[0.0], [1.0], [0.0]], learning_rate=1e6,
                      epochs=1000)
        self.assertEqual(e.exception.status, bpnn.ERR_NONFINITE)
        self.assertTrue(np.isfinite(net.predict([[1.0]])).all())

    def test_save_load_clone_layers_metadata(self):
        net = bpnn.Network([3, 4, 2], precision="f64", seed=9)
        net.set_metadata("input_names", "a,b,c")
        self.assertEqual(net.get_metadata("input_names"), "a,b,c")
        self.assertIsNone(net.get_metadata("absent"))
        net.save(self.path("m.safetensors"))
        loaded = bpnn.Network.load(self.path("m.safetensors"))
        self.assertEqual(loaded.get_metadata("input_names"), "a,b,c")
        x = np.random.default_rng(1).normal(size=(6, 3))
        np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
        copy = net.clone()
        w, b = copy.get_layer(0)
        self.assertEqual((w.shape, b.shape), ((4, 3), (4,)))
        copy.set_layer(0, w * 2, b + 1)
        w2, b2 = copy.get_layer(0)
        np.testing.assert_array_equal(w2, w * 2)
        np.testing.assert_array_equal(b2, b + 1)
        np.testing.assert_array_equal(net.get_layer(0)[0], w)  # the original is untouched
        # f32 networks round what they are given
        small = bpnn.Network([1, 1], precision="f32")
        small.set_layer(0, [[1 / 3]], [0.0])
        self.assertEqual(small.get_layer(0)[0][0, 0], float(np.float32(1 / 3)))

    def test_close_and_context_manager(self):
        net = bpnn.Network([2, 1])
        with net:
            net.predict([[0.0, 1.0]])
        with self.assertRaises(ValueError):
            net.predict([[0.0, 1.0]])
        net.close()  # twice is fine
        self.assertIn("closed", repr(net))
        for _ in range(200):  # handles freed by the garbage collector
            bpnn.Network([64, 64, 8])
        gc.collect()

    def test_threads_share_one_network(self):
        net = bpnn.Network([8, 16, 4], seed=2)
        x = np.random.default_rng(3).normal(size=(500, 8)).astype(np.float32)
        expected = net.predict(x)
        results = []

        def work():
            results.append(all(np.array_equal(net.predict(x), expected) for _ in range(20)))
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [True] * 8)


class TestEvaluate(unittest.TestCase):
    def test_classifier_figures(self):
        with bpnn.Network([2, 2], output_act="softmax", loss="xent", precision="f64") as net:
            net.set_layer(0, np.eye(2), [0.0, 0.0])
            x = np.array([[2.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
            y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
            e = net.evaluate(x, y)
        self.assertTrue(e["classifier"])
        self.assertEqual(e["confusion"].tolist(), [[1, 1], [1, 1]])
        self.assertEqual(e["accuracy"], 0.5)
        self.assertEqual([c["support"] for c in e["per_class"]], [2, 2])
        self.assertAlmostEqual(e["per_class"][0]["f1"], 0.5)
        self.assertAlmostEqual(e["macro_f1"], 0.5)

    def test_regression_figures(self):
        with bpnn.Network([1, 1], output_act="linear", precision="f32") as net:
            net.set_layer(0, [[1.0]], [0.0])
            e = net.evaluate([[1.0], [2.0], [3.0], [4.0]], [[1.0], [2.0], [2.0], [6.0]])
        self.assertFalse(e["classifier"])
        self.assertAlmostEqual(e["rmse"], np.sqrt(5 / 4), places=6)
        self.assertAlmostEqual(e["mae"], 0.75, places=6)
        self.assertAlmostEqual(e["r2"], 1 - 5 / 14.75, places=6)
        self.assertNotIn("accuracy", e)


class TestScalerAndTorch(unittest.TestCase):
    def test_scaler_round_trip_and_predict(self):
        with bpnn.Network([2, 1], output_act="linear", precision="f64") as net:
            net.set_layer(0, [[1.0, 1.0]], [0.0])
            self.assertEqual(net.scaler, ("none", None, None))
            net.set_scaler("standard", [10.0, -2.0], [0.5, 2.0])
            kind, offset, factor = net.scaler
            self.assertEqual(kind, "standard")
            self.assertEqual(offset.tolist(), [10.0, -2.0])
            self.assertEqual(net.predict([12.0, -1.0]).tolist(), [3.0])
            with self.assertRaises(bpnn.Error):
                net.set_scaler("minmax", [1.0], [1.0])
            net.set_scaler("none")
            self.assertEqual(net.predict([12.0, -1.0]).tolist(), [11.0])

    def test_predict_layer(self):
        with bpnn.Network([3, 5, 2], hidden_act="tanh", precision="f64", seed=2) as net:
            net.set_scaler("minmax", [1.0, 2.0, 3.0], [0.5, 0.25, 2.0])
            x = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 4.0]])
            np.testing.assert_array_equal(net.predict(x, layer=0), [[0, 0, 0], [1, 1, 2]])
            hidden = net.predict(x, layer=1)
            self.assertEqual(hidden.shape, (2, 5))
            w, b = net.get_layer(1)
            np.testing.assert_allclose(net.predict(x, layer=2),
                                       1 / (1 + np.exp(-(hidden @ w.T + b))), rtol=1e-12)
            np.testing.assert_array_equal(net.predict(x, layer=2), net.predict(x))
            with self.assertRaises(bpnn.Error):
                net.predict(x, layer=3)

    def test_to_torch_matches_predict(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed (Debian python3-torch)")
        rng = np.random.default_rng(4)
        for precision, hidden, output, loss in [("f64", "tanh", "softmax", "xent"),
                                                ("f32", "relu", "sigmoid", "mse"),
                                                ("f64", "sigmoid", "linear", "mse")]:
            with self.subTest(precision=precision, hidden=hidden, output=output):
                with bpnn.Network([4, 6, 5, 3], hidden_act=hidden, output_act=output, loss=loss,
                                  precision=precision, seed=9) as net:
                    net.set_scaler("standard", rng.normal(size=4), rng.uniform(0.5, 2, size=4))
                    x = rng.normal(size=(7, 4))
                    model = to_torch_model = bpnn.to_torch(net)
                    dtype = torch.float64 if precision == "f64" else torch.float32
                    with torch.no_grad():
                        got = model(torch.tensor(x, dtype=dtype)).numpy()
                    want = net.predict(x)
                    tol = 1e-12 if precision == "f64" else 1e-5
                    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
                    self.assertIsInstance(to_torch_model, torch.nn.Sequential)


class TestOptimizers(unittest.TestCase):
    def test_adam_with_scaling_learns_and_keeps_the_scaler(self):
        rng = np.random.default_rng(1)
        x = rng.normal(500, 100, size=(200, 2))
        y = ((x[:, 0] - 500) * (x[:, 1] - 500) > 0).astype(float).reshape(-1, 1)
        with bpnn.Network([2, 8, 1], precision="f64", seed=2) as net:
            report = net.train(x, y, optimizer="adam", learning_rate=0.01, batch=16, epochs=200,
                               scale="standard")
            self.assertEqual(net.scaler[0], "standard")
            self.assertAlmostEqual(net.scaler[1][0], x[:, 0].mean(), places=9)
            self.assertGreater(net.evaluate(x, y)["accuracy"], 0.9)
            self.assertLess(report["final_loss"], 0.05)

    def test_optimizer_arguments_are_checked(self):
        x, y = np.zeros((4, 1)), np.zeros((4, 1))
        with bpnn.Network([1, 1]) as net:
            with self.assertRaises(ValueError):
                net.train(x, y, optimizer="lbfgs")
            with self.assertRaises(bpnn.Error):
                net.train(x, y, optimizer="momentum", momentum=0.0)
            with self.assertRaises(bpnn.Error):
                net.train(x, y, optimizer="irprop", batch=2)
            net.train(x, y, optimizer="irprop", epochs=2)


class TestHardening(unittest.TestCase):
    """Misuse that used to kill the interpreter, wrap silently or truncate."""

    def assertArgError(self, call, needle):
        with self.assertRaises(bpnn.Error) as caught:
            call()
        self.assertEqual(caught.exception.status, bpnn.ERR_ARG)
        self.assertIn(needle, str(caught.exception))

    def test_sizes_that_wrap_or_overflow(self):
        self.assertArgError(lambda: bpnn.Network([2 ** 63, 2]), "larger than")
        self.assertArgError(lambda: bpnn.Network([2 ** 63, 2], init="zero"), "larger than")
        self.assertArgError(lambda: bpnn.Network([-1, 2], init="zero"), "sizes[0]: -1 is out of range")
        self.assertArgError(lambda: bpnn.Network([2, 2 ** 64]), "sizes[1]")
        self.assertArgError(lambda: bpnn.Network([2, 1.5]), "sizes[1]: 1.5 is not an integer")
        self.assertArgError(lambda: bpnn.Network([2, True]), "is not an integer")
        self.assertArgError(lambda: bpnn.Network([2, 2 ** 30, 2 ** 30, 1]), "of memory")
        self.assertArgError(lambda: bpnn.Network([2, 1], seed=-1), "seed")

    def test_training_numbers_that_wrap(self):
        x = np.array([[0.0], [1.0]])
        y = np.array([[0.0], [1.0]])
        with bpnn.Network([1, 1], precision="f64") as net:
            for name, value in [("epochs", -1), ("epochs", 0), ("batch", -1), ("batch", 0),
                                ("seed", -1), ("threads", 2 ** 40), ("threads", -1),
                                ("epochs", 2.5)]:
                with self.subTest(name=name, value=value):
                    self.assertArgError(lambda: net.train(x, y, **{name: value}), name)
            self.assertArgError(lambda: net.train(x, y, epochs=10 ** 12), "epochs")
            w, b = net.get_layer(0)
            net.train(x, y, epochs=1)  # the network is still usable
            self.assertFalse(np.array_equal(net.get_layer(0)[0], w) and
                             np.array_equal(net.get_layer(0)[1], b))

    def test_nonfinite_targets_are_argument_errors(self):
        with bpnn.Network([1, 1], precision="f64") as net:
            self.assertArgError(lambda: net.train([[0.0], [1.0]], [[0.0], [np.nan]]),
                                "target 0 of sample 1 is not finite")

    def test_set_layer_needs_the_exact_shape(self):
        with bpnn.Network([3, 2], precision="f64") as net:
            w = np.arange(6.0).reshape(2, 3)
            net.set_layer(0, w, [1.0, 2.0])
            self.assertTrue(np.array_equal(net.get_layer(0)[0], w))
            self.assertArgError(lambda: net.set_layer(0, w.T, [1.0, 2.0]), "expected shape (2, 3)")
            self.assertArgError(lambda: net.set_layer(0, w.ravel(), [1.0, 2.0]), "expected shape")
            self.assertArgError(lambda: net.set_layer(0, w, [[1.0, 2.0]]), "bias")
            self.assertArgError(lambda: net.set_layer(0, w * np.nan, [1.0, 2.0]), "not finite")
            self.assertArgError(lambda: net.set_layer(-1, w, [1.0, 2.0]), "layer")
            self.assertTrue(np.array_equal(net.get_layer(0)[0], w))

    def test_metadata_is_not_truncated(self):
        with bpnn.Network([1, 1]) as net:
            self.assertArgError(lambda: net.set_metadata("k", "a\0b"), "NUL")
            self.assertArgError(lambda: net.set_metadata("k\0", "a"), "NUL")
            self.assertArgError(lambda: net.set_metadata("k", 3), "not a str")
            self.assertIsNone(net.get_metadata("k"))
            net.set_metadata("k", "é\n\u2603")
            self.assertEqual(net.get_metadata("k"), "é\n\u2603")

    def test_busy_from_the_callback(self):
        x = np.array([[0.0], [1.0]])
        y = np.array([[0.0], [1.0]])
        seen = []
        with bpnn.Network([1, 1], precision="f64") as net:
            def on_epoch(stats):
                with self.assertRaises(bpnn.Error) as caught:
                    net.train(x, y, epochs=1)
                seen.append(caught.exception.status)
                return True
            net.train(x, y, epochs=5, on_epoch=on_epoch)
        self.assertEqual(seen, [bpnn.ERR_BUSY])


class TestClassLabels(unittest.TestCase):
    """1-D class labels are one-hot encoded; the class names stay with the model."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def test_labels_train_predict_and_save(self):
        rng = np.random.default_rng(1)
        x = rng.uniform(-1, 1, (90, 2))
        names = np.array(["cat", "dog", "eel"])
        y = names[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)]
        net = bpnn.Network([2, 8, 3], output_act="softmax", loss="xent", precision="f64", seed=3)
        net.train(x, y, optimizer="adam", learning_rate=0.05, batch=8, epochs=60)
        self.assertEqual(net.classes, ["cat", "dog", "eel"])
        predicted = net.predict_classes(x)
        self.assertGreater(np.mean(np.array(predicted) == y), 0.8)
        onehot = np.eye(3)[[["cat", "dog", "eel"].index(v) for v in y]]
        self.assertEqual(net.evaluate(x, y)["accuracy"], net.evaluate(x, onehot)["accuracy"])
        path = os.path.join(self.dir.name, "m.safetensors")
        net.save(path)
        self.assertEqual(bpnn.Network.load(path).classes, ["cat", "dog", "eel"])

    def test_numeric_labels_sort_numerically_and_bad_input_is_clear(self):
        net = bpnn.Network([1, 4, 3], output_act="softmax", loss="xent")
        net.train([[0.0], [1.0], [2.0]], np.array([10, 2, 9]), epochs=1)
        self.assertEqual(net.classes, ["2", "9", "10"])
        with self.assertRaisesRegex(bpnn.Error, "class '7' is not one of"):
            net.train([[0.0]], np.array([7]), epochs=1)
        other = bpnn.Network([1, 4, 3], output_act="softmax", loss="xent")
        with self.assertRaisesRegex(bpnn.Error, "2 distinct classes"):
            other.train([[0.0], [1.0]], np.array([0, 1]), epochs=1)
        other.train([[0.0], [1.0]], np.array([0, 1]), classes=[0, 1, 2], epochs=1)
        self.assertEqual(other.classes, ["0", "1", "2"])
        with self.assertRaisesRegex(bpnn.Error, "expected numbers"):
            other.train([["a"], ["b"]], np.array([0, 1]), epochs=1)


class TestRunControl(unittest.TestCase):
    """Schedules, validation, early stopping and checkpoints through the binding."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        rng = np.random.default_rng(4)
        self.x = rng.uniform(-1, 1, (120, 3))
        labels = (self.x[:, 0] + 0.3 * rng.uniform(-1, 1, 120) > 0).astype(int)
        self.y = np.eye(2)[labels]

    def tearDown(self):
        self.dir.cleanup()

    def net(self):
        return bpnn.Network([3, 8, 2], output_act="softmax", loss="xent", precision="f64", seed=2)

    def test_validation_and_early_stopping(self):
        net = self.net()
        seen = []
        report = net.train(self.x, self.y, optimizer="adam", learning_rate=0.05, batch=4,
                           epochs=200, val_split=0.3, early_stop=3, schedule="plateau:1:0.5",
                           on_epoch=lambda s: seen.append(s))
        self.assertTrue(report["stopped_early"])
        self.assertEqual(len(seen), report["best_epoch"] + 1 + 3)
        best = min(seen, key=lambda s: s["val_loss"])
        self.assertEqual(report["best_val_loss"], best["val_loss"])
        self.assertTrue(best["best"])
        self.assertTrue(all(0 <= s["val_accuracy"] <= 1 for s in seen))
        with self.assertRaises(bpnn.Error):
            self.net().train(self.x, self.y, early_stop=2)
        with self.assertRaises(bpnn.Error):
            self.net().train(self.x, self.y, schedule="sometimes")
        with self.assertRaises(bpnn.Error):
            self.net().train(self.x, self.y, val=(self.x[:5], self.y[:4]))

    def test_resume_equals_uninterrupted(self):
        options = dict(optimizer="nesterov", batch=8, schedule="step:2:0.5",
                       val=(self.x[:20], self.y[:20]), seed=3)
        whole = self.net()
        whole.train(self.x, self.y, epochs=7, **options)
        path = os.path.join(self.dir.name, "run.ckpt")
        self.net().train(self.x, self.y, epochs=3, checkpoint=path, **options)
        net, done = bpnn.checkpoint_load(path)
        self.assertEqual(done, 3)
        net.train(self.x, self.y, epochs=7, resume=path, threads=2, **options)
        for layer in range(2):
            for a, b in zip(whole.get_layer(layer), net.get_layer(layer)):
                np.testing.assert_array_equal(a, b)
        with self.assertRaises(bpnn.Error):
            net.train(self.x, self.y, epochs=9, resume=path, **dict(options, batch=4))


if __name__ == "__main__":
    unittest.main()
