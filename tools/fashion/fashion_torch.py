"""The Fashion-MNIST configuration of tools/run-fashion.sh in PyTorch, for the side-by-side table:
784-256-10, ReLU, softmax + cross-entropy, Adam (lr 1e-3) with ReduceLROnPlateau on the
validation loss (patience 1, factor 0.3, bpnn's --schedule plateau:1:0.3), batch 64, inputs standardised per
pixel with the training rows' mean and population standard deviation (a zero spread scales by 1,
as bpnn --scale standard), a stratified 10% validation split, early stopping on the validation
loss (the best epoch's weights kept), and the test set scored after every epoch with its time
left out. Prints one line per epoch and a final JSON line:
  {"tool": "torch", "seed": S, "threads": T, "time_to_88": seconds or null, "epoch_to_88": ...,
   "final_accuracy": ..., "epochs": ...}
Time runs from the start of this process (imports and data loading included)."""
import time

START = time.monotonic()

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def idx_read(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    x = idx_read(os.path.join(a.data, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32)
    y = idx_read(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    tx = idx_read(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32)
    ty = idx_read(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)

    val_rows = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:round(np.sum(y == c) * 0.1)]
                               for c in range(10)])
    is_val = np.zeros(len(y), dtype=bool)
    is_val[val_rows] = True
    x_train, y_train, x_val, y_val = x[~is_val], y[~is_val], x[is_val], y[is_val]
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1
    scale = lambda v: torch.from_numpy((v - mean) / std)  # noqa: E731
    xt, yt = scale(x_train), torch.from_numpy(y_train)
    xv, yv = scale(x_val), torch.from_numpy(y_val)
    xs, ys = scale(tx), torch.from_numpy(ty)

    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.3, patience=1,
                                                         threshold=1e-4, cooldown=0)
    loss_fn = torch.nn.CrossEntropyLoss()
    best, best_state, bad = float("inf"), None, 0
    scoring = 0.0
    time_to_88 = epoch_to_88 = None
    epochs = 0
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(len(yt))
        for first in range(0, len(yt), 64):
            rows = order[first:first + 64]
            opt.zero_grad()
            loss = loss_fn(model(xt[rows]), yt[rows])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(xv), yv).item()
            elapsed = time.monotonic() - START - scoring
            t0 = time.monotonic()
            test_acc = (model(xs).argmax(1) == ys).float().mean().item()
            scoring += time.monotonic() - t0
        epochs = epoch + 1
        print(f"epoch {epochs} val_loss {val_loss:.6f} test_accuracy {test_acc:.4f} time {elapsed:.3f}",
              flush=True)
        plateau.step(val_loss)
        if time_to_88 is None and test_acc >= 0.88:
            time_to_88, epoch_to_88 = elapsed, epochs
        if val_loss < best:
            best, bad = val_loss, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= a.patience:
                break
    model.load_state_dict(best_state)
    with torch.no_grad():
        final = (model(xs).argmax(1) == ys).float().mean().item()
    print(json.dumps({"tool": "torch", "seed": a.seed, "threads": a.threads, "time_to_88": time_to_88,
                      "epoch_to_88": epoch_to_88, "final_accuracy": final, "epochs": epochs}))


if __name__ == "__main__":
    main()
