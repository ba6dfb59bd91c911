"""Writes tools/data/digits.csv from scikit-learn's bundled copy of the UCI optical digits
(8x8 images, 1797 rows, pixel values 0-16): columns p0..p63, then the class column `digit`.
Run with Debian's /usr/bin/python3 (python3-sklearn). The output is committed; this script
records where it came from."""
import sys

from sklearn.datasets import load_digits

digits = load_digits()
out = open(sys.argv[1] if len(sys.argv) > 1 else "tools/data/digits.csv", "w", newline="\n")
out.write(",".join([f"p{i}" for i in range(64)] + ["digit"]) + "\n")
for row, label in zip(digits.data, digits.target):
    out.write(",".join(str(int(v)) for v in row) + f",{int(label)}\n")
