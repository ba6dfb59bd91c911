// Checkpoints: writing a trainer's state and restoring it; see checkpoint.hpp.
#include "train/checkpoint.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "bpnn/error.hpp"
#include "data/file_read.hpp"
#include "io/model_file.hpp"
#include "io/model_metadata.hpp"
#include "io/output_file.hpp"
#include "io/safetensors.hpp"

namespace bpnn {
namespace {

constexpr const char* checkpoint_format = "bpnn-checkpoint";
constexpr const char* checkpoint_version = "1";
const std::string key_prefix = "checkpoint.";

[[noreturn]] void format_fail(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::format, path + ": " + what);
}

// A double as text that strtod reads back to the same value, ∞ included.
std::string exact(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

std::span<const unsigned char> bytes_of(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// Metadata reading: each value must be there and of its form, else Error(format) naming the file.
struct MetadataReader {
  const Metadata& m;
  const std::string& path;

  const std::string& text(const std::string& key) const {
    const auto it = m.find(key_prefix + key);
    if (it == m.end()) format_fail(path, "metadata lacks \"" + key_prefix + key + "\"; not a complete bpnn checkpoint");
    return it->second;
  }
  double real(const std::string& key) const {
    const std::string& t = text(key);
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || std::isnan(v))
      format_fail(path, "metadata \"" + key_prefix + key + "\" = " + name_quote(t) + " is not a number");
    return v;
  }
  std::uint64_t whole(const std::string& key) const {
    const std::vector<std::size_t> v = metadata_counts_parse(text(key), path, key_prefix + key);
    if (v.size() != 1) format_fail(path, "metadata \"" + key_prefix + key + "\" is not one whole number");
    return v[0];
  }
};

template <class T>
std::vector<double> as_doubles(const T* values, std::size_t count) {
  return std::vector<double>(values, values + count);
}

// Adds buffer `arena` (the arena's layout) as tensors "{prefix}{i}.weight" and ".bias".
template <class T>
void arena_tensors_add(SafetensorsFile& file, const std::string& prefix, const Mlp<T>& mlp,
                       const T* arena, const std::string& dtype) {
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const LayerSpec& layer = mlp.layers()[l];
    std::vector<T> w(layer.out * layer.in);
    mlp.kernels().unpack(layer.out, layer.in, arena + layer.weight_offset, w.data());
    file.tensors.push_back({prefix + std::to_string(l) + ".weight", dtype, {layer.out, layer.in},
                            as_doubles(w.data(), w.size())});
    file.tensors.push_back({prefix + std::to_string(l) + ".bias", dtype, {layer.out},
                            as_doubles(arena + layer.bias_offset, layer.out)});
  }
}

using TensorIndex = std::map<std::string, const SafetensorsTensor*>;

const SafetensorsTensor* tensor_find(const TensorIndex& index, const std::string& name,
                                     const std::vector<std::size_t>& shape, const std::string& path,
                                     bool required) {
  const auto it = index.find(name);
  if (it == index.end()) {
    if (required) format_fail(path, "no tensor " + name_quote(name) + "; not a complete bpnn checkpoint");
    return nullptr;
  }
  if (it->second->shape != shape)
    format_fail(path, "tensor " + name_quote(name) + " has shape " + shape_format(it->second->shape) +
                          ", the network needs " + shape_format(shape));
  for (double v : it->second->values)
    if (!std::isfinite(v)) format_fail(path, "tensor " + name_quote(name) + " holds a NaN or infinite value");
  return it->second;
}

// Whether the file holds tensors "{prefix}{i}.weight"/".bias" (all of them, or none: else
// Error(format)); when it does, they are packed into `arena` (the arena's layout, resized).
template <class T>
bool arena_tensors_get(const TensorIndex& index, const std::string& prefix, const Mlp<T>& mlp,
                       AlignedVector<T>& arena, const std::string& path) {
  if (!index.contains(prefix + "0.weight")) return false;
  arena.assign(mlp.arena().size(), T(0));
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const LayerSpec& layer = mlp.layers()[l];
    const auto* w = tensor_find(index, prefix + std::to_string(l) + ".weight", {layer.out, layer.in}, path, true);
    const auto* b = tensor_find(index, prefix + std::to_string(l) + ".bias", {layer.out}, path, true);
    const std::vector<T> wt(w->values.begin(), w->values.end());
    mlp.kernels().pack(layer.out, layer.in, wt.data(), arena.data() + layer.weight_offset);
    std::copy(b->values.begin(), b->values.end(), arena.data() + layer.bias_offset);
  }
  return true;
}

// The checkpoint file, decoded and checksum-checked.
SafetensorsFile checkpoint_file_read(const std::string& path) {
  const std::string bytes = file_read_all(path);
  SafetensorsFile file = checksummed_decode(bytes_of(bytes), path, checkpoint_format);
  const auto version = file.metadata.find(key_prefix + "version");
  if (version == file.metadata.end() || version->second != checkpoint_version)
    format_fail(path, "checkpoint version " +
                          (version == file.metadata.end() ? std::string("missing") : name_quote(version->second)) +
                          " is not supported (this bpnn reads version " + checkpoint_version + ")");
  return file;
}

// The model inside a checkpoint: its "{i}.weight"/".bias" tensors and the metadata that is not
// the checkpoint's.
Network checkpoint_network(const SafetensorsFile& file, const std::string& path) {
  SafetensorsFile model;
  for (const auto& t : file.tensors)
    if (!t.name.starts_with("optimizer.") && !t.name.starts_with("best.") && t.name != "order")
      model.tensors.push_back(t);
  for (const auto& [key, value] : file.metadata)
    if (!key.starts_with(key_prefix)) model.metadata[key] = value;
  return model_from_file(model, path);
}

TrainConfig config_read(const MetadataReader& r) {
  TrainConfig c;
  try {
    c.optimizer = parse_optimizer(r.text("optimizer"));
    c.schedule = parse_schedule(r.text("schedule"));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::argument) throw;
    format_fail(r.path, e.what());
  }
  c.learning_rate = r.real("learning_rate");
  c.momentum = r.real("momentum");
  c.beta1 = r.real("beta1");
  c.beta2 = r.real("beta2");
  c.eps = r.real("eps");
  c.l2 = r.real("l2");
  c.clip = r.real("clip");
  c.batch = r.whole("batch");
  c.shuffle = r.whole("shuffle") != 0;
  c.seed = r.whole("seed");
  c.val_split = r.real("val_split");
  c.early_stop = r.whole("early_stop");
  c.epochs = r.whole("epochs");
  try {
    return train_config_resolve(c);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::argument) throw;
    format_fail(r.path, std::string("the stored training configuration is invalid: ") + e.what());
  }
}

void fingerprint_set(Metadata& m, const std::string& name, const DataFingerprint& f) {
  m[key_prefix + name + "_rows"] = std::to_string(f.rows);
  m[key_prefix + name + "_hash"] = std::to_string(f.hash);
}

}  // namespace

// The fields of a resolved config that shape the result, as text.
std::vector<std::pair<std::string, std::string>> train_config_fields(const TrainConfig& c) {
  return {{"optimizer", std::string(to_string(c.optimizer))},
          {"learning_rate", exact(c.learning_rate)},
          {"momentum", exact(c.momentum)},
          {"beta1", exact(c.beta1)},
          {"beta2", exact(c.beta2)},
          {"eps", exact(c.eps)},
          {"l2", exact(c.l2)},
          {"clip", exact(c.clip)},
          {"batch", std::to_string(c.batch)},
          {"shuffle", c.shuffle ? "1" : "0"},
          {"seed", std::to_string(c.seed)},
          {"schedule", to_string(c.schedule)},
          {"val_split", exact(c.val_split)},
          {"early_stop", std::to_string(c.early_stop)}};
}

template <class U>
DataFingerprint data_fingerprint(const U* x, const U* y, std::size_t n, std::size_t inputs,
                                 std::size_t outputs) {
  // Each value's bits mixed into the hash in order (a multiply-rotate hash, not a cryptographic one).
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (inputs * 0x100000001B3ull) ^ outputs;
  const auto mix = [&h](const U* v, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      h ^= std::bit_cast<std::uint64_t>(static_cast<double>(v[i]));
      h = std::rotl(h * 0xBF58476D1CE4E5B9ull, 31);
    }
  };
  mix(x, n * inputs);
  mix(y, n * outputs);
  return {n, h};
}

template <class T>
void checkpoint_write(const std::string& path, const Network& net, TrainerCore<T>& core,
                      const TrainConfig& config, const DataFingerprint& data,
                      const std::optional<DataFingerprint>& validation) {
  SafetensorsFile file = model_file_make(net);
  const std::string dtype = net.config().precision == Precision::f64 ? "F64" : "F32";
  const Mlp<T>& mlp = core.mlp();
  OptimizerCore<T>& optimizer = core.optimizer();
  if (!optimizer.state1().empty()) arena_tensors_add(file, "optimizer.state1.", mlp, optimizer.state1().data(), dtype);
  if (!optimizer.state2().empty()) arena_tensors_add(file, "optimizer.state2.", mlp, optimizer.state2().data(), dtype);
  if (!core.best_arena().empty()) arena_tensors_add(file, "best.", mlp, core.best_arena().data(), dtype);
  // Under an exchange each block's order is a function of the seed and the epoch: nothing to save.
  if (!core.block_order()) {
    std::vector<double> order(core.order().begin(), core.order().end());
    file.tensors.push_back({"order", "F64", {order.size()}, std::move(order)});
  }

  Metadata& m = file.metadata;
  m["format"] = checkpoint_format;
  m[key_prefix + "version"] = checkpoint_version;
  TrainConfig resolved = train_config_resolve(config);
  for (const auto& [name, value] : train_config_fields(resolved)) m[key_prefix + name] = value;
  m[key_prefix + "epochs"] = std::to_string(resolved.epochs);
  m[key_prefix + "epochs_done"] = std::to_string(core.epochs_done());
  m[key_prefix + "optimizer_steps"] = std::to_string(optimizer.steps());
  m[key_prefix + "random"] = core.random().state();
  if (core.block_order()) m[key_prefix + "sample_order"] = "blocks";
  const LearningRateSchedule::State& schedule = core.schedule().state();
  m[key_prefix + "schedule_rate"] = exact(schedule.rate);
  m[key_prefix + "schedule_best"] = exact(schedule.best);
  m[key_prefix + "schedule_bad_epochs"] = std::to_string(schedule.bad_epochs);
  m[key_prefix + "best_loss"] = exact(core.early_stop().best_loss);
  m[key_prefix + "best_epoch"] = std::to_string(core.early_stop().best_epoch);
  m[key_prefix + "bad_epochs"] = std::to_string(core.early_stop().bad_epochs);
  fingerprint_set(m, "data", data);
  if (validation) fingerprint_set(m, "validation", *validation);
  output_file_write(path, checksummed_encode(std::move(file)));
}

template <class T>
void checkpoint_restore(const std::string& path, Network::Impl& net, TrainerCore<T>& core,
                        const TrainConfig& config, const DataFingerprint& data,
                        const std::optional<DataFingerprint>& validation) {
  if (core.epochs_done() > 0) throw Error(ErrorKind::argument, "resume: before the first epoch only");
  const SafetensorsFile file = checkpoint_file_read(path);
  const MetadataReader r{file.metadata, path};

  // The network: the same configuration and scaler as the checkpoint's.
  const Network saved = checkpoint_network(file, path);
  const NetworkConfig& a = saved.config();
  const NetworkConfig& b = net.config;
  if (a.sizes != b.sizes || a.hidden_act != b.hidden_act || a.output_act != b.output_act ||
      a.loss != b.loss || a.precision != b.precision)
    throw Error(ErrorKind::argument, "resume: the network (sizes " + metadata_counts_format(b.sizes) +
                                         ") differs from the checkpoint's (sizes " +
                                         metadata_counts_format(a.sizes) + ", its activations, loss or precision)");
  const InputScaler& sa = saved.scaler();
  const InputScaler& sb = net.scaler;
  if (sa.kind != sb.kind || sa.offset != sb.offset || sa.factor != sb.factor)
    throw Error(ErrorKind::argument, "resume: the network's input scaler differs from the checkpoint's "
                                     "(start from the network checkpoint_read gives)");

  // The config: everything that shapes the result must be the checkpoint's.
  const TrainConfig stored = config_read(r);
  const TrainConfig resolved = train_config_resolve(config);
  const auto want = train_config_fields(stored), have = train_config_fields(resolved);
  for (std::size_t i = 0; i < want.size(); ++i)
    if (want[i].second != have[i].second)
      throw Error(ErrorKind::argument, "resume: " + want[i].first + " " + have[i].second +
                                           " differs from the checkpoint's " + want[i].first + " " +
                                           want[i].second);
  const std::size_t done = r.whole("epochs_done");
  if (resolved.epochs < done)
    throw Error(ErrorKind::argument, "resume: epochs " + std::to_string(resolved.epochs) +
                                         " is fewer than the checkpoint's " + std::to_string(done) + " epochs done");

  // The data: the same rows and values.
  const auto fingerprint_check = [&](const std::string& name, const std::optional<DataFingerprint>& have_f) {
    const bool stored_has = file.metadata.contains(key_prefix + name + "_rows");
    if (!stored_has && !have_f) return;
    if (stored_has != have_f.has_value())
      throw Error(ErrorKind::data, "resume: the checkpoint was trained " + std::string(stored_has ? "with" : "without") +
                                       " a " + name + " set given apart, this run " +
                                       (have_f ? "has one" : "has none"));
    const DataFingerprint s{r.whole(name + "_rows"), r.whole(name + "_hash")};
    if (s.rows != have_f->rows)
      throw Error(ErrorKind::data, "resume: the " + name + " data has " + std::to_string(have_f->rows) +
                                       " rows, the checkpoint's had " + std::to_string(s.rows));
    if (s.hash != have_f->hash)
      throw Error(ErrorKind::data, "resume: the " + name + " data differs from the checkpoint's (same " +
                                       std::to_string(s.rows) + " rows, other values)");
  };
  // The sample order: the single-process shuffle, or (data-parallel) per block; absent: "shuffle".
  const auto sample_order = file.metadata.find(key_prefix + "sample_order");
  const bool stored_blocks = sample_order != file.metadata.end() && sample_order->second == "blocks";
  if (stored_blocks != core.block_order())
    throw Error(ErrorKind::argument,
                std::string("resume: the checkpoint was written by a ") +
                    (stored_blocks ? "data-parallel run (mpirun), whose sample order is per block; resume it under mpirun"
                                   : "run without MPI, whose sample order is one shuffle of all rows; resume it without mpirun"));
  fingerprint_check("data", data);
  fingerprint_check("validation", validation);

  // The state.
  TensorIndex index;
  for (const auto& t : file.tensors) index.emplace(t.name, &t);
  Mlp<T>& mlp = core.mlp();
  OptimizerCore<T>& optimizer = core.optimizer();
  for (auto [prefix, state] : {std::pair{"optimizer.state1.", &optimizer.state1()},
                               std::pair{"optimizer.state2.", &optimizer.state2()}}) {
    AlignedVector<T> restored;
    const bool found = arena_tensors_get(index, prefix, mlp, restored, path);
    if (found != !state->empty())
      format_fail(path, std::string("the optimizer's state ") + prefix + "* is " + (found ? "there" : "missing") +
                            " but the optimizer " + (found ? "keeps none" : "keeps it"));
    if (found) *state = std::move(restored);
  }
  AlignedVector<T> best;
  if (arena_tensors_get(index, "best.", mlp, best, path)) core.best_arena() = std::move(best);
  else core.best_arena().clear();

  std::vector<std::size_t> restored_order;
  if (!core.block_order()) {
    const SafetensorsTensor* order = tensor_find(index, "order", {core.order().size()}, path, true);
    std::vector<bool> seen(core.order().size());
    for (std::size_t i = 0; i < order->values.size(); ++i) {
      const double v = order->values[i];
      if (!(v >= 0 && v < static_cast<double>(seen.size())) || v != std::floor(v) || seen[static_cast<std::size_t>(v)])
        format_fail(path, "tensor \"order\" is not an order of the " + std::to_string(seen.size()) + " samples");
      seen[static_cast<std::size_t>(v)] = true;
    }
    restored_order.assign(order->values.begin(), order->values.end());
  }
  if (!core.random().set_state(r.text("random")))
    format_fail(path, "metadata \"checkpoint.random\" is not a generator state");

  LearningRateSchedule::State schedule;
  schedule.rate = r.real("schedule_rate");
  schedule.best = r.real("schedule_best");
  schedule.bad_epochs = r.whole("schedule_bad_epochs");
  typename TrainerCore<T>::EarlyStopState early{r.real("best_loss"), r.whole("best_epoch"), r.whole("bad_epochs")};

  // Nothing above changed the weights; a file found bad above may have left the optimizer's
  // buffers or the generator part-restored: such a trainer is not to be run (start a new one).
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const std::vector<double> w = saved.weights(l), bias = saved.bias(l);
    const std::vector<T> wt(w.begin(), w.end()), bt(bias.begin(), bias.end());
    mlp.set_layer(l, wt.data(), bt.data());
  }
  if (!core.block_order()) core.order() = std::move(restored_order);
  core.schedule().set_state(schedule);
  core.early_stop() = early;
  optimizer.set_steps(r.whole("optimizer_steps"));
  core.set_epochs_done(done);
}

Checkpoint checkpoint_read(const std::string& path) {
  const SafetensorsFile file = checkpoint_file_read(path);
  const MetadataReader r{file.metadata, path};
  Checkpoint c{checkpoint_network(file, path), config_read(r), 0};
  c.epochs_done = r.whole("epochs_done");
  return c;
}

template DataFingerprint data_fingerprint(const float*, const float*, std::size_t, std::size_t, std::size_t);
template DataFingerprint data_fingerprint(const double*, const double*, std::size_t, std::size_t, std::size_t);
template void checkpoint_write(const std::string&, const Network&, TrainerCore<float>&, const TrainConfig&,
                               const DataFingerprint&, const std::optional<DataFingerprint>&);
template void checkpoint_write(const std::string&, const Network&, TrainerCore<double>&, const TrainConfig&,
                               const DataFingerprint&, const std::optional<DataFingerprint>&);
template void checkpoint_restore(const std::string&, Network::Impl&, TrainerCore<float>&, const TrainConfig&,
                                 const DataFingerprint&, const std::optional<DataFingerprint>&);
template void checkpoint_restore(const std::string&, Network::Impl&, TrainerCore<double>&, const TrainConfig&,
                                 const DataFingerprint&, const std::optional<DataFingerprint>&);

}  // namespace bpnn
