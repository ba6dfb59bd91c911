"""Writes tools/data/digits.csv from scikit-learn's bundled copy of the UCI optical digits
(8x8 images, 1797 rows, pixel values 0-16): columns p0..p63, then the class column `digit`;
and digits_train.csv / digits_test.csv, a stratified 75/25 split of it (scikit-learn's
train_test_split, random_state 0) for the README's worked example. Run with Debian's
/usr/bin/python3 (python3-sklearn) from the repository root. The output is committed; this
script records where it came from."""
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

digits = load_digits()
header = ",".join([f"p{i}" for i in range(64)] + ["digit"]) + "\n"


def write(path, rows, labels):
    with open(path, "w", newline="\n") as out:
        out.write(header)
        for row, label in zip(rows, labels):
            out.write(",".join(str(int(v)) for v in row) + f",{int(label)}\n")


write("tools/data/digits.csv", digits.data, digits.target)
train_x, test_x, train_y, test_y = train_test_split(
    digits.data, digits.target, test_size=0.25, stratify=digits.target, random_state=0)
write("tools/data/digits_train.csv", train_x, train_y)
write("tools/data/digits_test.csv", test_x, test_y)
