"""Function approximation, the seed's first use: bpnn learns sin(x) on [-pi, pi] and the surface
z = sin(x)·cos(y) on [-2, 2]² from random samples, and the script plots target against learned
on a fine grid (SVG) and prints the grid RMSE. Run from the repository root:
  python3 tools/examples/function_approximation.py [--bpnn build/bpnn] [--out build/examples]"""
import argparse
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import svg_figures  # noqa: E402


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def predict(bpnn, model, grid_csv):
    out = subprocess.run([bpnn, "predict", model, grid_csv], check=True, capture_output=True, text=True).stdout
    return [float(line) for line in out.splitlines()[1:]]


def train(bpnn, data, layers, model, epochs):
    subprocess.run([bpnn, "train", data, "--layers", layers, "--hidden-act", "tanh", "--output-act", "linear",
                    "--optimizer", "adam", "--lr", "0.01", "--batch", "16", "--epochs", str(epochs),
                    "--schedule", "cosine", "--seed", "1", "-o", model], check=True, stdout=subprocess.DEVNULL)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bpnn", default="build/bpnn")
    p.add_argument("--out", default="build/examples")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(7)
    join = lambda name: os.path.join(a.out, name)  # noqa: E731

    # sin(x): 200 samples, 1-16-1
    xs = [rng.uniform(-math.pi, math.pi) for _ in range(200)]
    write_csv(join("sin_train.csv"), ["x", "y"], [(x, math.sin(x)) for x in xs])
    grid = [-math.pi + 2 * math.pi * i / 399 for i in range(400)]
    write_csv(join("sin_grid.csv"), ["x"], [(x,) for x in grid])
    train(a.bpnn, join("sin_train.csv"), "1,16,1", join("sin.safetensors"), 400)
    learned = predict(a.bpnn, join("sin.safetensors"), join("sin_grid.csv"))
    rmse = math.sqrt(sum((y - math.sin(x)) ** 2 for x, y in zip(grid, learned)) / len(grid))
    svg_figures.line_chart(join("sin.svg"), f"sin(x) learned by a 1-16-1 network (grid RMSE {rmse:.4f})",
                           "x", "y", [("target sin(x)", grid, [math.sin(x) for x in grid], "#1f77b4", False),
                                      ("bpnn 1-16-1", grid, learned, "#d62728", True)])
    print(f"sin(x), 200 samples, 1-16-1 tanh/linear: grid RMSE {rmse:.4f}   ({join('sin.svg')})")

    # z = sin(x)·cos(y): 600 samples, 2-32-32-1
    f = lambda x, y: math.sin(x) * math.cos(y)  # noqa: E731
    pts = [(rng.uniform(-2, 2), rng.uniform(-2, 2)) for _ in range(600)]
    write_csv(join("surface_train.csv"), ["x", "y", "z"], [(x, y, f(x, y)) for x, y in pts])
    n = 41
    cells = [(-2 + 4 * c / (n - 1), 2 - 4 * r / (n - 1)) for r in range(n) for c in range(n)]
    write_csv(join("surface_grid.csv"), ["x", "y"], cells)
    train(a.bpnn, join("surface_train.csv"), "2,32,32,1", join("surface.safetensors"), 400)
    learned = predict(a.bpnn, join("surface.safetensors"), join("surface_grid.csv"))
    target = [f(x, y) for x, y in cells]
    rmse = math.sqrt(sum((u - v) ** 2 for u, v in zip(learned, target)) / len(target))
    as_grid = lambda v: [v[r * n:(r + 1) * n] for r in range(n)]  # noqa: E731
    svg_figures.heat_maps(join("surface.svg"), f"z = sin(x)·cos(y) and a 2-32-32-1 network (grid RMSE {rmse:.4f})",
                          [("target", as_grid(target)), ("bpnn 2-32-32-1", as_grid(learned))],
                          extent=(-2, 2, -2, 2), value_range=(-1, 1))
    print(f"sin(x)·cos(y), 600 samples, 2-32-32-1 tanh/linear: grid RMSE {rmse:.4f}   ({join('surface.svg')})")


if __name__ == "__main__":
    main()
