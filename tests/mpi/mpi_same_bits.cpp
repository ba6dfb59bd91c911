// Launched by mpirun (tests/mpi/run_same_bits.sh): trains every combination of precision,
// optimizer and threads per rank on the ranks of MPI_COMM_WORLD (and a deep 6-layer network of
// mixed widths with SGD and Adam, <precision>_deep_<optimizer>), and rank 0 writes each trained
// model's parameters (as doubles, raw bytes) to OUT_DIR/<combination>.bin. The script runs it for
// P = 1, 2, 3, 4 ranks and compares the files byte for byte: data-parallel training must give the
// same bits whatever the number of ranks and threads.
//
// The data: 203 rows, a 10 % validation split (the sharded rule: 20 rows) leaving 183
// to train on in steps of 71 rows (5 blocks; the last, short step cut over the same 5 shards), 6
// inputs, 3 one-hot classes; the batch is divided by none of 2, 3, 4. Each rank is given only the
// rows of its blocks (trainer_make_sharded), as `bpnn train` reads them under mpirun. With --plain
// it also writes the same trainings without MPI (<combination>.plain.bin), for the README's note
// on -np 1. Each combination is trained twice under MPI, the second time with the reduction cut
// into a segment per layer and 64-byte pieces (the pipeline's every path on MPI's non-blocking
// calls); the two must have the same bits.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "mpi/mpi_exchange.hpp"
#include "train/gradient_exchange.hpp"

namespace {

bpnn::Dataset make_data() {
  bpnn::Dataset d;
  d.n = 203;
  d.inputs = 6;
  d.outputs = 3;
  std::uint64_t state = 12345;
  const auto next = [&] {  // a fixed LCG: the same data on every rank
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (std::size_t r = 0; r < d.n; ++r) {
    double s = 0;
    for (std::size_t i = 0; i < d.inputs; ++i) {
      const double v = 2 * next() - 1;
      d.x.push_back(v);
      s += v * static_cast<double>(i + 1);
    }
    const std::size_t c = s < -1 ? 0 : (s < 1 ? 1 : 2);
    for (std::size_t k = 0; k < d.outputs; ++k) d.y.push_back(k == c ? 1.0 : 0.0);
  }
  return d;
}

std::vector<double> params(const bpnn::Network& net) {
  std::vector<double> out;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    const std::vector<double> w = net.weights(l), b = net.bias(l);
    out.insert(out.end(), w.begin(), w.end());
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 0;
  try {
    if (argc < 2) throw bpnn::Error(bpnn::ErrorKind::argument, "usage: mpi_same_bits OUT_DIR [--plain]");
    const std::string out_dir = argv[1];
    const bool plain = argc > 2 && std::strcmp(argv[2], "--plain") == 0;
    bpnn::MpiExchange exchange(MPI_COMM_WORLD);
    // the reduction pipelined over every layer in 64-byte pieces: must give the same bits
    bpnn::MpiExchange piped(MPI_COMM_WORLD, 64, 0);
    const bpnn::Dataset data = make_data();
    const struct {
      const char* name;
      bpnn::Optimizer optimizer;
      double momentum, clip;
    } optimizers[] = {{"sgd", bpnn::Optimizer::sgd, 0, 0},
                      {"momentum", bpnn::Optimizer::momentum, 0.9, 0},
                      {"adam", bpnn::Optimizer::adam, 0, 0},
                      {"adam_clip", bpnn::Optimizer::adam, 0, 0.05}};
    // a 3-layer network with every optimizer, and a deep one (6 layers of mixed widths: the δ
    // pass and the broadcast go a segment at a time) with SGD and Adam
    for (const bool deep : {false, true})
      for (const bpnn::Precision precision : {bpnn::Precision::f32, bpnn::Precision::f64})
        for (const auto& opt : optimizers)
          for (const int threads : {1, 2})
            for (const bool mpi : {true, false}) {
              if (!mpi && !plain) continue;
              if (deep && (opt.optimizer == bpnn::Optimizer::momentum || opt.clip > 0)) continue;
              bpnn::NetworkConfig nc;
              nc.sizes = deep ? std::vector<std::size_t>{6, 40, 7, 33, 3, 21, 3} : std::vector<std::size_t>{6, 24, 12, 3};
              nc.hidden_act = bpnn::Activation::tanh;
              nc.output_act = bpnn::Activation::softmax;
              nc.loss = bpnn::Loss::xent;
              nc.precision = precision;
              nc.seed = 7;
              bpnn::Network net(nc);
              bpnn::TrainConfig tc;
              tc.optimizer = opt.optimizer;
              if (opt.optimizer == bpnn::Optimizer::momentum) tc.momentum = opt.momentum;
              tc.clip = opt.clip;
              tc.learning_rate = opt.optimizer == bpnn::Optimizer::adam ? 0.01 : 0.2;
              tc.batch = 71;
              tc.epochs = 4;
              tc.seed = 3;
              tc.val_split = 0.1;
              tc.threads = threads;
              std::vector<double> piped_params;
              for (bpnn::MpiExchange* ex : {&piped, &exchange}) {
                if (!mpi) break;
                bpnn::Network fresh(nc);  // the same initial weights
                net = fresh;
                const bpnn::ShardLayout layout = bpnn::shard_layout_make(
                    nc, tc, data.n,
                    bpnn::split_rows_stratified(data.y.data(), data.n, data.outputs, tc.val_split, tc.seed).test);
                const bpnn::RowRange mine = layout.rank_file_rows(static_cast<std::size_t>(exchange.rank()),
                                                                  static_cast<std::size_t>(exchange.ranks()));
                const std::vector<double> x(data.x.begin() + static_cast<std::ptrdiff_t>(mine.begin * data.inputs),
                                            data.x.begin() + static_cast<std::ptrdiff_t>(mine.end * data.inputs));
                const std::vector<double> y(data.y.begin() + static_cast<std::ptrdiff_t>(mine.begin * data.outputs),
                                            data.y.begin() + static_cast<std::ptrdiff_t>(mine.end * data.outputs));
                bpnn::trainer_make_sharded(net, tc, *ex, layout, x.data(), y.data(), mine.end - mine.begin)->run();
                if (ex == &piped) piped_params = params(net);
              }
              if (!mpi) {
                bpnn::Trainer trainer(net, tc, data);
                trainer.run();
              }
              const std::string name = std::string(precision == bpnn::Precision::f32 ? "f32" : "f64") +
                                       (deep ? "_deep_" : "_") + opt.name + "_t" + std::to_string(threads) +
                                       (mpi ? "" : ".plain");
              const std::vector<double> p = params(net);
              if (mpi && (p.size() != piped_params.size() ||
                          std::memcmp(p.data(), piped_params.data(), p.size() * sizeof(double)) != 0))
                throw bpnn::Error(bpnn::ErrorKind::internal, name + ": the reduction in 64-byte pieces, a segment per "
                                                                    "layer, gave other bits");
              for (double v : p)
                if (!std::isfinite(v)) throw bpnn::Error(bpnn::ErrorKind::nonfinite, name + ": a parameter is not finite");
              if (exchange.rank() == 0) {
                std::ofstream file(out_dir + "/" + name + ".bin", std::ios::binary);
                file.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size() * sizeof(double)));
                if (!file) throw bpnn::Error(bpnn::ErrorKind::io, out_dir + "/" + name + ".bin: cannot write");
              }
            }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_same_bits: %s\n", e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
