#!/usr/bin/env bash
# Fashion-MNIST end to end, bpnn against PyTorch on this machine in the same run.
#
# bpnn: 784-256-10 (ReLU, softmax, cross-entropy, Adam lr 1e-3 with --schedule plateau:1:0.3,
# batch 64, --scale standard) on
# the 60 000 training images with a 10% validation split and early stopping (patience 5, at most
# EPOCHS epochs), then `bpnn eval` on the 10 000 test images. The test set is also scored after
# every epoch (train --test, its time left out) to find the time to 88% test accuracy. PyTorch
# (Debian's python3-torch), when installed, runs the same configuration with the same threads
# (tools/fashion/fashion_torch.py). Three seeds each; the final accuracy is their median.
#
#   tools/run-fashion.sh [--threads 2] [--epochs 30] [--seeds "1 2 3"] [--no-torch]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 epochs=30 seeds="1 2 3" torch=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --no-torch) torch=0; shift ;;
    *) echo "run-fashion.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
data=/usr/share/datasets/fashion-mnist
if [[ ! -f "$data/train-images-idx3-ubyte.gz" ]]; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get install -y dataset-fashion-mnist
fi
if [[ ! -x build/bpnn ]]; then
  tools/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$(nproc)" --target bpnn_cli
fi
out=build/fashion
mkdir -p "$out"
train="idx:$data/train-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz"
test="idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
python=/usr/bin/python3
[[ -x $python ]] || python=python3
if [[ $torch == 1 ]] && ! "$python" -c "import torch" 2>/dev/null; then
  echo "# PyTorch (python3-torch) is not installed: bpnn alone" >&2
  torch=0
fi

# The time of the first epoch line whose test_accuracy is >= 0.88, and its epoch: "T E" or "- -".
first_88() { awk '/^epoch / { for (i = 1; i < NF; i++) { if ($i == "test_accuracy") a = $(i+1); if ($i == "time") t = $(i+1) }
                              if (a >= 0.88) { print t, $2; found = 1; exit } }
                  END { if (!found) print "- -" }' "$1"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf "%-6s %-5s %-14s %-9s %-15s %s\n" tool seed "time to 88%" epoch "final accuracy" epochs
bpnn_acc="" torch_acc="" bpnn_t="" torch_t=""
for seed in $seeds; do
  ./build/bpnn train "$train" --layers 784,256,10 --hidden-act relu --output-act softmax --loss xent \
      --optimizer adam --lr 1e-3 --schedule plateau:1:0.3 --batch 64 --scale standard \
      --val-split 0.1 --early-stop 5 \
      --epochs "$epochs" --seed "$seed" --threads "$threads" --test "$test" \
      -o "$out/model-$seed.safetensors" > "$out/bpnn-$seed.log"
  read -r t e < <(first_88 "$out/bpnn-$seed.log")
  acc=$(./build/bpnn eval "$out/model-$seed.safetensors" "$test" --json |
        "$python" -c "import json, sys; print(json.load(sys.stdin)['accuracy'])")
  n=$(grep -c '^epoch ' "$out/bpnn-$seed.log")
  printf "%-6s %-5s %-14s %-9s %-15s %s\n" bpnn "$seed" "$t" "$e" "$acc" "$n"
  bpnn_acc+=" $acc"; [[ $t != - ]] && bpnn_t+=" $t"
  if [[ $torch == 1 ]]; then
    "$python" tools/fashion/fashion_torch.py --data "$data" --seed "$seed" --threads "$threads" \
        --epochs "$epochs" --patience 5 > "$out/torch-$seed.log"
    line=$(tail -1 "$out/torch-$seed.log")
    read -r t e acc n < <(echo "$line" | "$python" -c "import json, sys; d = json.load(sys.stdin)
print(d['time_to_88'] if d['time_to_88'] is not None else '-', d['epoch_to_88'] or '-', d['final_accuracy'], d['epochs'])")
    printf "%-6s %-5s %-14s %-9s %-15s %s\n" torch "$seed" "$t" "$e" "$acc" "$n"
    torch_acc+=" $acc"; [[ $t != - ]] && torch_t+=" $t"
  fi
done
echo "# medians over seeds ($seeds), $threads threads:"
echo "# bpnn  time to 88% $(echo "$bpnn_t" | median) s, final accuracy $(echo "$bpnn_acc" | median)"
if [[ $torch == 1 ]]; then
  echo "# torch time to 88% $(echo "$torch_t" | median) s, final accuracy $(echo "$torch_acc" | median)"
fi
