#pragma once
// Checkpoints: a trainer's whole state in one checksummed safetensors file, so that a resumed run
// ends with the same bits as one never interrupted (README "Checkpoints" documents the file).
//
//   tensors   the model's "{i}.weight" [out, in] and "{i}.bias" [out] (the current weights);
//             "optimizer.state1.{i}.weight", ".bias" and "optimizer.state2.…" (velocity, Adam's
//             moments, iRPROP's step sizes and last gradient, as the optimizer keeps them);
//             "best.{i}.weight", ".bias" (early stopping's best weights); "order" [n] (the sample
//             order the next epoch's shuffle starts from) — all in the network's dtype, order F64.
//   metadata  the model's (format = "bpnn-checkpoint" instead of "bpnn"), and "checkpoint.*": the
//             resolved config (optimizer, learning_rate, …), epochs_done, optimizer_steps, the
//             shuffle generator's state, the schedule's and early stopping's state, and the rows
//             and fingerprint of the training (and validation) data.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "nn/network_impl.hpp"
#include "train/trainer_core.hpp"

namespace bpnn {

// The rows of a data set and a 64-bit hash of its values (as doubles), to tell on resume whether
// the data is the one the checkpoint was trained on.
struct DataFingerprint {
  std::uint64_t rows = 0;
  std::uint64_t hash = 0;
  bool operator==(const DataFingerprint&) const = default;
};

// The fields of a resolved config that shape the result, as name and exact text (a checkpoint
// stores them; resume and the ranks of a data-parallel run compare them).
std::vector<std::pair<std::string, std::string>> train_config_fields(const TrainConfig& config);

template <class U>
DataFingerprint data_fingerprint(const U* x, const U* y, std::size_t n, std::size_t inputs,
                                 std::size_t outputs);

// config: the trainer's config as given (resolved here).
template <class T>
void checkpoint_write(const std::string& path, const Network& net, TrainerCore<T>& core,
                      const TrainConfig& config, const DataFingerprint& data,
                      const std::optional<DataFingerprint>& validation);

template <class T>
void checkpoint_restore(const std::string& path, Network::Impl& net, TrainerCore<T>& core,
                        const TrainConfig& config, const DataFingerprint& data,
                        const std::optional<DataFingerprint>& validation);

}  // namespace bpnn
