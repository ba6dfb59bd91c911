"""Data compression, the seed's fourth use: a 64-8-64 autoencoder of the 8x8 digits
(`bpnn train --targets inputs`) against PCA with 8 components on the same split.

Trains on tools/data/digits_train.csv, scores the reconstruction of tools/data/digits_test.csv
in standardised units (each pixel scaled by the training rows' mean and population standard
deviation, as --scale standard does) and writes a picture of test digits: the originals, bpnn's
reconstructions and PCA's. Run from the repository root with Debian's python3 (numpy, sklearn):
  /usr/bin/python3 tools/examples/autoencoder_vs_pca.py [--bpnn build/bpnn] [--out build/examples]"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from sklearn.decomposition import PCA

sys.path.insert(0, os.path.dirname(__file__))
import svg_figures  # noqa: E402


def load(path):
    a = np.loadtxt(path, delimiter=",", skiprows=1)
    return a[:, :64]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bpnn", default="build/bpnn")
    p.add_argument("--out", default="build/examples")
    p.add_argument("--code", type=int, default=8)
    p.add_argument("--hidden-act", default="linear")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    train, test = "tools/data/digits_train.csv", "tools/data/digits_test.csv"
    model = os.path.join(a.out, "autoencoder.safetensors")
    layers = f"64,{a.code},64"
    subprocess.run([a.bpnn, "train", train, "--targets", "inputs", "--layers", layers, "--hidden-act",
                    a.hidden_act, "--output-act", "linear", "--optimizer", "adam", "--lr", "3e-3", "--batch",
                    "32", "--epochs", "600", "--schedule", "cosine", "--scale", "standard", "-o", model],
                   check=True, stdout=subprocess.DEVNULL)
    report = json.loads(subprocess.run([a.bpnn, "eval", model, test, "--json"], check=True,
                                       capture_output=True, text=True).stdout)
    recon_path = os.path.join(a.out, "autoencoder_test.csv")
    subprocess.run([a.bpnn, "predict", model, test, "-o", recon_path], check=True)
    recon_scaled = np.loadtxt(recon_path, delimiter=",", skiprows=1)

    x_train, x_test = load(train), load(test)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1
    z_train, z_test = (x_train - mean) / std, (x_test - mean) / std
    pca = PCA(n_components=a.code).fit(z_train)
    z_pca = pca.inverse_transform(pca.transform(z_test))
    mse_bpnn = float(np.mean((recon_scaled - z_test) ** 2))
    mse_pca = float(np.mean((z_pca - z_test) ** 2))
    print(f"test reconstruction, mean squared error per pixel in standardised units "
          f"({len(x_test)} images, code of {a.code}):")
    print(f"  bpnn {layers} autoencoder ({a.hidden_act})  {mse_bpnn:.4f}   (bpnn eval: rmse {report['rmse']:.4f})")
    print(f"  PCA, {a.code} components                {mse_pca:.4f}   "
          f"(explained variance {pca.explained_variance_ratio_.sum():.3f})")

    shown = list(range(12))
    unscale = lambda z: z * std + mean  # noqa: E731
    figure = os.path.join(a.out, "autoencoder_vs_pca.svg")
    svg_figures.image_grid(figure, f"test digits: originals and {a.code}-number reconstructions", [
        ("original", [x_test[i] for i in shown]),
        (f"bpnn {layers}", [unscale(recon_scaled[i]) for i in shown]),
        (f"PCA {a.code}", [unscale(z_pca[i]) for i in shown]),
    ], side=8)
    print(f"  picture: {figure}")


if __name__ == "__main__":
    main()
