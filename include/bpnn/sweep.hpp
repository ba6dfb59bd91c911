#pragma once
// Many networks on the same data at once: train_many trains K independent members, which may
// differ in anything a NetworkConfig and a TrainConfig say (seed of the initial weights, seed of
// the shuffle, learning rate, momentum, L2, activation, hidden widths, optimizer, ...).
//
// The equality rule: every member's network ends bit for bit equal to the one bpnn::train gives
// with the same NetworkConfig and TrainConfig, in either precision and on any thread count.
//   - The lane path (sweep_lane_path): per-sample plain SGD (optimizer sgd, momentum 0, l2 0,
//     no clipping, batch 1), MSE loss, no softmax, a constant, step or cosine schedule, no early
//     stopping. Members of one shape (sizes, activations, precision, epochs, val_split, shuffle)
//     are trained W at a time, one per SIMD lane (KernelTable::sweep_sample_sgd: 16 f32 members
//     per AVX-512 register), or in narrow groups (SweepOptions::lane_groups), repeating the
//     single network's operations in its order.
//   - Every other member (other optimizers, momentum, L2, mini-batches, other losses) is trained
//     by the single-network trainer itself, on one thread; members run side by side.
// Work is cut into one task per lane group and one per other member — a count fixed by the
// members, never by the thread count — and tasks share nothing they write.
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"

namespace bpnn {

struct Dataset;

struct SweepMember {
  NetworkConfig network;
  TrainConfig train;  // threads and the checkpoint options are ignored (no checkpoints)
};

// How the lane path groups members (results never depend on it): automatic chooses narrow groups
// where a full group's parameters outgrow the L1 data cache and a narrow group's fit in it.
//   full: W members per group, one per element of the vector (16 f32 on AVX-512).
//   narrow: where the kernel table has them (AVX-512 f32: 4 members per vector, one per 128-bit
//     lane, so 4 × 64-32-10 fit in 48 KB of L1 where 16 do not), else full.
enum class LaneGroups { automatic, full, narrow };

struct SweepOptions {
  int threads = 0;  // 0 = all cores; results never depend on it
  Backend backend = Backend::tbb;
  LaneGroups lane_groups = LaneGroups::automatic;
};

struct SweepResult {
  explicit SweepResult(Network trained) : network(std::move(trained)) {}
  // The trained network; a member whose loss diverged keeps its weights from before the failing
  // step (one whose weights overflowed while the loss stayed finite holds them, as bpnn::train).
  Network network;
  // epochs_run (those completed), final_loss (the last epoch's mean training loss), seconds.
  TrainReport report;
  double train_accuracy = std::numeric_limits<double>::quiet_NaN();  // the last epoch's
  // On the member's validation data (val_split's rows or the validation set) after training,
  // by bpnn::evaluate; NaN without validation data (accuracy: also unless classes).
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  bool lane_path = false;  // trained by the lane kernel (else by the single-network trainer)
  std::string diverged;    // empty, or why training stopped: the loss or a weight became NaN or infinite
};

// Whether the member's settings take the lane path (see the top of this file). Throws
// Error(argument) for a config that cannot train.
BPNN_API bool sweep_lane_path(const SweepMember& member);

// Trains every member on `data` (with config.val_split, each member holds out its own seeded
// split, as bpnn::train does). Results are in the members' order. Error(argument) for an empty
// list or a member whose network does not fit the data (naming the member), Error(data) for data
// that is not finite; a member that diverges does not stop the others (SweepResult::diverged).
BPNN_API std::vector<SweepResult> train_many(const std::vector<SweepMember>& members,
                                             const Dataset& data, const SweepOptions& options = {});
// The same with one validation set for all (every member's val_split must then be 0).
BPNN_API std::vector<SweepResult> train_many(const std::vector<SweepMember>& members,
                                             const Dataset& data, const Dataset& validation,
                                             const SweepOptions& options = {});

}  // namespace bpnn
