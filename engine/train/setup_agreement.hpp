#pragma once
// Data-parallel training trains one model: every rank must start from the same network and train
// it with the same options and kernels (README "Training on many machines (MPI)"). A rank given
// another command line would exchange gradients of other sizes (the job would hang) or apply
// other updates (rank 0 would write a model no rank trained).
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "train/gradient_exchange.hpp"

namespace bpnn {

// Collective, and the first message of trainer_make_sharded and trainer_exchange_set (the only
// check of the kernels: TrainerCore::set_exchange relies on it): every rank sends a CRC-32 of each part
// of its setup (layer sizes, activations, loss, precision, input scaler, initial weights, each
// field of the resolved training config, epochs, whether a checkpoint is given and how often:
// its saves are collective) and its kernels' name, and every rank compares
// them with rank 0's. On a difference every rank throws the same AgreedError(argument), naming
// the lowest such rank and the part: agreed without a further message.
void ranks_same_setup_check(GradientExchange& exchange, const Network& net, const TrainConfig& config);

}  // namespace bpnn
