"""bpnn.train_many against the built libbpnn.so (BPNN_LIBRARY): every network equals the one
Network.train gives alone with the same arguments, bit for bit."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "python"))
import bpnn  # noqa: E402


class TrainMany(unittest.TestCase):
    def test_members_equal_networks_trained_alone(self):
        rng = np.random.default_rng(3)
        x = rng.uniform(-1, 1, (30, 3))
        y = (x.sum(1, keepdims=True) > 0).astype(np.float64)
        members = [dict(sizes=[3, h, 1], seed=s, learning_rate=lr, epochs=4)
                   for h in (4, 7) for lr in (0.3, 1.0) for s in (1, 2, 3)]
        members.append(dict(sizes=[3, 5, 1], seed=9, momentum=0.9, epochs=4, precision="f64"))
        members.append(dict(sizes=[3, 5, 1], seed=9, optimizer="adam", batch=5, epochs=4))
        nets, results = bpnn.train_many(x, y, members, threads=2, results=True)
        self.assertEqual(len(nets), len(members))
        for m, net, r in zip(members, nets, results):
            self.assertEqual(r["status"], "ok")
            self.assertEqual(r["epochs_run"], 4)
            self.assertEqual(r["lane_path"], "momentum" not in m and "optimizer" not in m)
            alone = bpnn.Network(m["sizes"], seed=m["seed"], precision=m.get("precision", "f32"))
            alone.train(x, y, learning_rate=m.get("learning_rate"), momentum=m.get("momentum"),
                        optimizer=m.get("optimizer", "sgd"), batch=m.get("batch", 1), epochs=4,
                        seed=m["seed"])
            for layer in range(net.n_layers):
                for a, b in zip(net.get_layer(layer), alone.get_layer(layer)):
                    self.assertTrue(np.array_equal(a, b), f"{m} layer {layer}")

    def test_bad_members_raise(self):
        x = np.zeros((4, 2))
        y = np.zeros((4, 1))
        with self.assertRaises(bpnn.Error):
            bpnn.train_many(x, y, [])
        with self.assertRaises(bpnn.Error):
            bpnn.train_many(x, y, [dict(sizes=[2, 3, 1], colour="red")])
        with self.assertRaisesRegex(bpnn.Error, "member 1"):
            bpnn.train_many(x, y, [dict(sizes=[2, 3, 1]), dict(sizes=[3, 3, 1])])


if __name__ == "__main__":
    unittest.main()
