// bpnn train DATA.csv --layers ... -o model.safetensors
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/cli_values.hpp"
#include "bpnn/commands.hpp"
#include "io/model_metadata.hpp"
#include "bpnn/data.hpp"
#include "bpnn/data_source.hpp"
#include "bpnn/error.hpp"
#include "bpnn/exit_codes.hpp"
#include "bpnn/evaluate.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/message_line.hpp"
#include "bpnn/output_paths.hpp"
#include "bpnn/progress.hpp"
#include "bpnn/training_history.hpp"
#include "bpnn/train.hpp"
#include "io/crc32.hpp"
#include "io/output_file.hpp"
#include "nn/size_check.hpp"
#include "train/gradient_exchange.hpp"
#if BPNN_HAVE_MPI
#include "mpi/mpi_exchange.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi_job_end.hpp"
#endif

namespace bpnn::cli {
namespace {

// Limits of the numeric options (README, "Command line"). A batch at least the data's size is
// full-batch, so 10^9 only keeps out typos; more threads than cores are capped to the cores.
constexpr std::uint64_t max_batch = 1'000'000'000;
constexpr std::uint64_t max_threads = 65'536;

struct TrainOptions {
  std::string data_path, model_path, init_from;
  std::vector<std::size_t> layers;
  std::string hidden_act = "sigmoid", output_act = "sigmoid", loss = "mse", init = "xavier",
              precision = "f32", backend = "tbb";
  std::optional<std::string> label;
  std::vector<std::string> classes;
  double init_scale = 0.5;
  TrainConfig train;
  std::string optimizer = "sgd", scale = "none", targets = "columns";
  bool no_shuffle = false;
  bool batch_given = false;
  std::string schedule = "constant";
  std::string val_path, test_path, checkpoint_path, resume_path;
  std::string history_path, plot_path;
  bool quiet = false;
  std::size_t log_every = 1;
};

// The options that shape the trained model, as exact text under their option names (without
// "--"): the model keeps them in its "training" metadata, a checkpoint too, and `--resume` takes
// them from there. NaN (an optimizer default) is "default".
nlohmann::json shaping_options(const TrainOptions& o) {
  const auto real = [](double v) {
    if (std::isnan(v)) return std::string("default");
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", v);
    return std::string(text);
  };
  nlohmann::json j;
  j["layers"] = metadata_counts_format(o.layers);
  j["hidden-act"] = o.hidden_act;
  j["output-act"] = o.output_act;
  j["loss"] = o.loss;
  j["precision"] = o.precision;
  j["init"] = o.init;
  j["init-scale"] = real(o.init_scale);
  j["init-from"] = o.init_from;
  j["seed"] = std::to_string(o.train.seed);
  j["label"] = o.label ? *o.label : std::string();
  j["classes"] = nlohmann::json(o.classes).dump();
  j["targets"] = o.targets;
  j["scale"] = o.scale;
  j["optimizer"] = o.optimizer;
  j["lr"] = real(o.train.learning_rate);
  j["momentum"] = real(o.train.momentum);
  j["betas"] = real(o.train.beta1) + "," + real(o.train.beta2);
  j["eps"] = real(o.train.eps);
  j["l2"] = real(o.train.l2);
  j["clip"] = real(o.train.clip);
  j["batch"] = o.batch_given ? std::to_string(o.train.batch) : std::string("default");
  j["no-shuffle"] = o.no_shuffle ? "1" : "0";
  j["schedule"] = o.schedule;
  j["val-split"] = real(o.train.val_split);
  j["early-stop"] = std::to_string(o.train.early_stop);
  return j;
}

// The inverse of shaping_options over `o`; Error(format) naming the checkpoint for a value that
// does not parse.
void shaping_options_apply(const nlohmann::json& j, TrainOptions& o, const std::string& source) {
  const auto text = [&](const char* key) -> std::string {
    if (!j.contains(key) || !j[key].is_string())
      throw Error(ErrorKind::format, source + ": metadata \"training\" lacks the option " + key);
    return j[key].get<std::string>();
  };
  const auto real = [&](const char* key) {
    const std::string t = text(key);
    if (t == "default") return optimizer_default;
    return parse_real(std::string("--") + key, t, {.low = -HUGE_VAL, .high = HUGE_VAL});
  };
  const auto whole = [&](const char* key) {
    const std::string t = text(key);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc{} || end != t.data() + t.size())
      throw Error(ErrorKind::format, source + ": metadata \"training\" option " + key + " = " + quoted_value(t) +
                                         " is not a whole number");
    return v;
  };
  o.layers = metadata_counts_parse(text("layers"), source, "training.layers");
  o.hidden_act = text("hidden-act");
  o.output_act = text("output-act");
  o.loss = text("loss");
  o.precision = text("precision");
  o.init = text("init");
  o.init_scale = real("init-scale");
  o.init_from = text("init-from");
  o.train.seed = whole("seed");
  const std::string label = text("label");
  o.label = label.empty() ? std::nullopt : std::optional<std::string>(label);
  const nlohmann::json classes = nlohmann::json::parse(text("classes"), nullptr, false);
  if (!classes.is_array() || !std::all_of(classes.begin(), classes.end(), [](const auto& c) { return c.is_string(); }))
    throw Error(ErrorKind::format, source + ": metadata \"training\" option classes is not a list of names");
  o.classes = classes.get<std::vector<std::string>>();
  o.targets = text("targets");
  o.scale = text("scale");
  o.optimizer = text("optimizer");
  o.train.learning_rate = real("lr");
  o.train.momentum = real("momentum");
  const std::string betas = text("betas");
  const auto comma = betas.find(',');
  if (comma == std::string::npos)
    throw Error(ErrorKind::format, source + ": metadata \"training\" option betas = " + quoted_value(betas));
  o.train.beta1 = parse_real("--betas", betas.substr(0, comma), {.low = -HUGE_VAL, .high = HUGE_VAL});
  o.train.beta2 = parse_real("--betas", betas.substr(comma + 1), {.low = -HUGE_VAL, .high = HUGE_VAL});
  o.train.eps = real("eps");
  o.train.l2 = real("l2");
  o.train.clip = real("clip");
  o.batch_given = text("batch") != "default";
  if (o.batch_given) o.train.batch = whole("batch");
  o.no_shuffle = text("no-shuffle") == "1";
  o.schedule = text("schedule");
  o.train.val_split = real("val-split");
  o.train.early_stop = whole("early-stop");
}

// "SIZE:CRC32" of the files, in order, read in pieces.
std::string data_files_stamp(const std::string& spec) {
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
  std::vector<unsigned char> buffer(1 << 20);
  for (const CommandFile& file : data_spec_files(data_spec_parse(spec), "")) {
    const std::string& path = file.path;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) throw Error(ErrorKind::io, path + ": cannot be read");
    for (std::size_t got; (got = std::fread(buffer.data(), 1, buffer.size(), f)) > 0; size += got)
      crc = crc32_update(crc, std::span(buffer.data(), got));
    const bool failed = std::ferror(f);
    std::fclose(f);
    if (failed) throw Error(ErrorKind::io, path + ": read error");
  }
  return std::to_string(size) + ":" + crc32_hex(crc);
}

// A one-line hint when the targets lie outside what the output activation can produce (negative
// targets with a sigmoid output, class indices 0–9 in one sigmoid column), with the fix.
std::optional<std::string> target_range_hint(Activation out, const Dataset& data) {
  if (data.y.empty()) return std::nullopt;
  const auto [lo_it, hi_it] = std::minmax_element(data.y.begin(), data.y.end());
  const double lo = *lo_it, hi = *hi_it;
  char range[96];
  std::snprintf(range, sizeof range, "the targets lie in [%.6g, %.6g]", lo, hi);
  const bool whole = std::all_of(data.y.begin(), data.y.end(), [](double v) { return v == std::floor(v); });
  switch (out) {
    case Activation::sigmoid:
    case Activation::softmax:
      if (lo >= 0 && hi <= 1) return std::nullopt;
      if (data.outputs == 1 && whole && lo >= 0)
        return std::string(range) + ", class indices in one " + std::string(to_string(out)) +
               " column, whose outputs stay in [0, 1]; use --label COLUMN (one-hot classes) with "
               "--output-act softmax, or --output-act linear for a number";
      return std::string(range) + ", outside [0, 1] where a " + std::string(to_string(out)) +
             " output lives; use --output-act linear (or rescale the targets)";
    case Activation::tanh:
      if (lo >= -1 && hi <= 1) return std::nullopt;
      return std::string(range) + ", outside [-1, 1] where a tanh output lives; use --output-act linear";
    case Activation::relu:
      if (lo >= 0) return std::nullopt;
      return std::string(range) + ", below 0 where a relu output cannot go; use --output-act linear";
    case Activation::linear:
      return std::nullopt;
  }
  return std::nullopt;
}

// `bpnn train --resume CKPT`: the options that shape the result from the checkpoint. Given again
// with the same value is fine, with another is Error(argument); the training files must be the
// checkpoint's (size and CRC-32), else Error(data).
std::optional<Checkpoint> resume_prepare(TrainOptions& o, const CLI::App& cmd) {
  if (o.resume_path.empty()) return std::nullopt;
  Checkpoint ck = checkpoint_read(o.resume_path);
  const auto& m = ck.network.metadata();
  const auto stored_it = m.find("training");
  nlohmann::json stored;
  if (stored_it != m.end()) stored = nlohmann::json::parse(stored_it->second, nullptr, false);
  if (!stored.is_object())
    throw Error(ErrorKind::format, o.resume_path + ": a checkpoint without the options of `bpnn train` "
                                                   "(metadata \"training\"); resume it through the library");
  const nlohmann::json given = shaping_options(o);
  for (const auto& [key, value] : given.items())
    if (cmd.count("--" + key) > 0 && stored.contains(key) && stored[key] != value)
      throw Error(ErrorKind::argument, "--" + key + " " + quoted_value(value.get<std::string>()) +
                                           " differs from the checkpoint's " +
                                           quoted_value(stored[key].is_string() ? stored[key].get<std::string>() : "?") +
                                           " (" + o.resume_path + "); leave it out to continue the run");
  shaping_options_apply(stored, o, o.resume_path);
  const auto stamp = m.find("training_data");
  if (stamp != m.end() && stamp->second != data_files_stamp(o.data_path))
    throw Error(ErrorKind::data, o.data_path + ": not the training data of " + o.resume_path +
                                     " (size:CRC-32 " + data_files_stamp(o.data_path) + ", the checkpoint's " +
                                     stamp->second + ")");
  if (cmd.count("--epochs") == 0) o.train.epochs = ck.config.epochs;
  return ck;
}

// The reader's options of a file read beside the training data (--val, --test): the training
// data's widths and classes (a CSV label's in the training order; `rows` of the file, whose IDX
// labels, when --classes does not name them, are the training data's agreed classes).
TrainingDataOptions companion_options(const std::string& path, const TrainOptions& o, const Dataset& data,
                                      const NetworkConfig& config, bool autoencoder, std::optional<RowRange> rows) {
  const bool idx = data_spec_parse(path).format == DataFormat::idx;
  return TrainingDataOptions{.label = o.label,
                             .classes = idx ? o.classes : data.classes,
                             .inputs = config.sizes.front(),
                             .outputs = config.sizes.back(),
                             .autoencoder = autoencoder,
                             .precision = config.precision,
                             .rows = rows,
                             .agreed_classes = rows ? data.classes : std::vector<std::string>{}};
}

// A file read beside the training data (--val, --test), in any data format, whole or `rows` of
// it (companion_options); for an autoencoder the targets are the inputs after the model's
// scaler.
Dataset companion_read(const std::string& path, const TrainOptions& o, const Dataset& data,
                       const NetworkConfig& config, const Network& net, bool autoencoder,
                       std::optional<RowRange> rows = std::nullopt) {
  Dataset d = training_data_read(path, companion_options(path, o, data, config, autoencoder, rows)).data;
  if (d.classes != data.classes)
    throw Error(ErrorKind::data, path + ": its classes (" + std::to_string(d.classes.size()) +
                                     ") differ from the training data's (" + std::to_string(data.classes.size()) +
                                     "); name them with --classes");
  if (autoencoder && net.scaler().active()) scaler_apply(net.scaler(), d.y.data(), d.n, d.outputs);
  return d;
}

// Runs fn on every rank; with several ranks, one rank's failure reaches every rank (and the job
// ends with its exit code on all of them) instead of leaving the others waiting.
template <class F>
void on_all_ranks(GradientExchange* exchange, F&& fn) {
  if (exchange == nullptr) {
    fn();
    return;
  }
  std::exception_ptr failure;
  try {
    fn();
  } catch (...) {
    failure = std::current_exception();
  }
  exchange_agree(*exchange, failure);
}

// Under mpirun, this rank's rows of --val FILE (README "Training on many machines (MPI)"): the
// file's V rows (`file_rows`) are cut into the trainer's S blocks, block s holding the rows
// [shard_first_row(s, S, V), shard_first_row(s + 1, S, V)); rank 0 counts V by streaming (a row
// range [0, 0), as for the training file) and every rank reads only its blocks' rows. Collective.
Dataset validation_read_sharded(GradientExchange& exchange, const std::string& path, const TrainOptions& o,
                                const Dataset& data, const NetworkConfig& config, const Network& net,
                                bool autoencoder, const ShardLayout& layout, std::size_t& file_rows) {
  std::uint64_t rows = 0;
  on_all_ranks(&exchange, [&] {
    if (exchange.rank() == 0)
      rows = training_table_read(path, companion_options(path, o, data, config, autoencoder, RowRange{0, 0})).file_rows;
  });
  exchange.broadcast(&rows, sizeof rows, 0);
  file_rows = static_cast<std::size_t>(rows);
  const std::size_t me = static_cast<std::size_t>(exchange.rank()), ranks = static_cast<std::size_t>(exchange.ranks());
  const std::size_t shards = layout.blocks.shards;
  const RowRange mine{shard_first_row(layout.rank_first_block(me, ranks), shards, file_rows),
                      shard_first_row(layout.rank_first_block(me + 1, ranks), shards, file_rows)};
  Dataset d;
  on_all_ranks(&exchange, [&] { d = companion_read(path, o, data, config, net, autoencoder, mine); });
  return d;
}

// The options and files of `bpnn train`, checked before any data is read: the checkpoint to
// resume (its options applied to o), the network's config and the training config.
std::optional<Checkpoint> run_train_check(TrainOptions& o, const CLI::App& cmd, GradientExchange* exchange,
                                          NetworkConfig& config, TrainConfig& train) {
  std::vector<CommandFile> inputs =
      data_spec_files(data_spec_parse(o.data_path), "the training data");
  if (!o.init_from.empty()) inputs.push_back({"--init-from", o.init_from});
  for (const auto& [role, path] : {std::pair{"--val", &o.val_path}, std::pair{"--test", &o.test_path}})
    if (!path->empty())
      for (CommandFile& file : data_spec_files(data_spec_parse(*path), role)) inputs.push_back(std::move(file));
  std::vector<CommandFile> outputs{{"--output", o.model_path}};
  for (const auto& [role, path] : {std::pair{"--history", &o.history_path}, std::pair{"--plot", &o.plot_path}})
    if (!path->empty()) {
      outputs.push_back({role, *path});
      output_kind(*path);
    }

  if (!o.checkpoint_path.empty()) {
    outputs.push_back({"--checkpoint", o.checkpoint_path});
    output_kind(o.checkpoint_path);
  }
  // Resuming and checkpointing to the same file is the usual way to continue a run: the
  // checkpoint is read whole before training starts.
  if (!o.resume_path.empty() && (o.checkpoint_path.empty() || !paths_same_file(o.resume_path, o.checkpoint_path)))
    inputs.push_back({"--resume", o.resume_path});
  output_paths_check_distinct(inputs, outputs);
  output_kind(o.model_path);  // a folder, a socket, a missing folder: exit 4 before any work
  if (o.train.checkpoint_every > 0 && o.checkpoint_path.empty())
    throw Error(ErrorKind::argument, "--checkpoint-every: give --checkpoint FILE too");
  if (o.train.val_split > 0 && !o.val_path.empty())
    throw Error(ErrorKind::argument, "--val-split and --val: give one or the other");
  std::optional<Checkpoint> resumed = resume_prepare(o, cmd);
  if (o.layers.empty()) throw Error(ErrorKind::argument, "--layers is required (unless --resume)");
  if (o.train.early_stop > 0 && o.train.val_split == 0 && o.val_path.empty())
    throw Error(ErrorKind::argument, "--early-stop needs validation data: --val-split F or --val FILE");
  if (exchange != nullptr && exchange->ranks() > 1 && o.train.batch == 1 && parse_optimizer(o.optimizer) != Optimizer::irprop)
    throw Error(ErrorKind::argument, "--batch 1 (per-sample steps) cannot be split across " +
                                         std::to_string(exchange->ranks()) + " ranks: give --batch " +
                                         std::to_string(exchange->ranks()) + " or more");
  config.sizes = o.layers;
  config.hidden_act = parse_activation(o.hidden_act);
  config.output_act = parse_activation(o.output_act);
  config.loss = parse_loss(o.loss);
  config.precision = parse_precision(o.precision);
  config.init = o.init_from.empty() ? parse_init(o.init) : Init::zero;
  config.init_scale = o.init_scale;
  config.seed = o.train.seed;
  validate(config);
  train = o.train;
  train.optimizer = parse_optimizer(o.optimizer);
  train.shuffle = !o.no_shuffle;
  train.backend = o.backend == "omp" ? Backend::omp : Backend::tbb;
  train.schedule = parse_schedule(o.schedule);
  train.checkpoint = o.checkpoint_path;
  if (train.optimizer == Optimizer::irprop && o.batch_given)
    throw Error(ErrorKind::argument, "--batch: irprop steps on the full batch; leave --batch out");
  return resumed;
}

// Rank 0 of a sharded run with --val-split: the rows `bpnn train` holds out of the whole file
// (split_rows_stratified of its targets), from the file read a piece of rows at a time, so that
// rank 0 holds one piece's rows and one class number per row. When the classes come from the
// rows (--label, IDX labels) a first pass gathers the class set, so that each piece's targets are
// one-hot in the whole file's class order.
std::vector<std::size_t> validation_rows_streamed(const std::string& spec, TrainingDataOptions options,
                                                  std::size_t file_rows, const TrainConfig& train,
                                                  std::size_t ranks) {
  // pieces: twice the ranks (a piece is at most half a rank's share), 8 to 64 (each piece's read
  // scans the file from its start)
  const std::size_t pieces = std::clamp<std::size_t>(2 * ranks, 8, 64);
  const std::size_t piece = (file_rows + pieces - 1) / pieces;
  const auto piece_at = [&](std::size_t first) { return RowRange{first, std::min(file_rows, first + piece)}; };
  if (training_classes_from_rows(spec, options)) {
    std::vector<std::string> names;
    for (std::size_t first = 0; first < file_rows; first += piece) {
      options.rows = piece_at(first);
      for (std::string& name : table_class_names(training_table_read(spec, options))) names.push_back(std::move(name));
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
    }
    options.agreed_classes = class_names_sorted(names);
  }
  std::vector<std::size_t> classes;
  classes.reserve(file_rows);
  for (std::size_t first = 0; first < file_rows; first += piece) {
    options.rows = piece_at(first);
    const Dataset part = training_data_from_table(training_table_read(spec, options), spec, options).data;
    const std::vector<std::size_t> part_classes = target_classes(part.y.data(), part.n, part.outputs);
    if (part_classes.empty()) {  // some targets are not classes: the split is not stratified
      classes.clear();
      break;
    }
    classes.insert(classes.end(), part_classes.begin(), part_classes.end());
  }
  return split_rows_by_class(classes, file_rows, train.val_split, train.seed).test;
}

// Under mpirun (sharded data, README "Training on many machines (MPI)"): rank 0 counts the data
// rows by streaming (and with --val-split finds the rows to hold out), every rank reads only the
// rows of its blocks, and the ranks agree on the class set (the union of theirs, in the readers'
// order). Collective.
TrainingData training_data_read_sharded(GradientExchange& exchange, const std::string& spec,
                                        TrainingDataOptions options, const NetworkConfig& net,
                                        const TrainConfig& train, ShardLayout& layout) {
  std::uint64_t file_rows = 0;
  on_all_ranks(&exchange, [&] {
    if (exchange.rank() != 0) return;
    TrainingDataOptions count = options;
    count.rows = RowRange{0, 0};  // rows [0, 0): the reader counts the rows through a window
    file_rows = training_table_read(spec, count).file_rows;
  });
  exchange.broadcast(&file_rows, sizeof file_rows, 0);
  const std::size_t me = static_cast<std::size_t>(exchange.rank()), ranks = static_cast<std::size_t>(exchange.ranks());
  std::vector<std::size_t> validation;
  if (train.val_split > 0) {
    on_all_ranks(&exchange, [&] {
      if (me == 0)
        validation = validation_rows_streamed(spec, options, static_cast<std::size_t>(file_rows), train, ranks);
    });
    std::uint64_t count = validation.size();
    exchange.broadcast(&count, sizeof count, 0);
    on_all_ranks(&exchange, [&] { validation.resize(static_cast<std::size_t>(count)); });
    if (count > 0) exchange.broadcast(validation.data(), validation.size() * sizeof(std::size_t), 0);
  }
  on_all_ranks(&exchange, [&] {
    layout = shard_layout_make(net, train, static_cast<std::size_t>(file_rows), validation);
  });
  options.rows = layout.rank_file_rows(me, ranks);
  DataTable table;
  on_all_ranks(&exchange, [&] { table = training_table_read(spec, options); });
  if (training_classes_from_rows(spec, options)) {
    // every rank's class names, '\0'-separated, gathered in pieces of the longest list's size
    std::string mine;
    for (const std::string& name : table_class_names(table)) mine.append(name).push_back('\0');
    std::uint64_t size = mine.size();
    std::vector<std::uint64_t> sizes(ranks);
    exchange.all_gather(&size, sizeof size, sizes.data());
    const std::size_t slot = static_cast<std::size_t>(*std::max_element(sizes.begin(), sizes.end()));
    mine.resize(slot, '\0');
    std::string all(slot * ranks, '\0');
    if (slot > 0) exchange.all_gather(mine.data(), slot, all.data());
    std::vector<std::string> names;
    for (std::size_t r = 0; r < ranks; ++r)
      for (std::size_t at = r * slot, end = r * slot + static_cast<std::size_t>(sizes[r]); at < end;) {
        const std::size_t stop = all.find('\0', at);
        names.push_back(all.substr(at, stop - at));
        at = stop + 1;
      }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    on_all_ranks(&exchange, [&] { options.agreed_classes = class_names_sorted(names); });
  }
  TrainingData training;
  on_all_ranks(&exchange, [&] { training = training_data_from_table(table, spec, options); });
  return training;
}

// The input scaler of sharded data: each block's statistics over its file rows (this rank's
// blocks from x:(rows of layout.rank_file_rows, inputs)), gathered, and merged in block order on
// every rank. Collective.
InputScaler scaler_fit_sharded(GradientExchange& exchange, Scaling kind, const ShardLayout& layout, const double* x,
                               std::size_t inputs) {
  const std::size_t me = static_cast<std::size_t>(exchange.rank()), ranks = static_cast<std::size_t>(exchange.ranks());
  const std::size_t first = layout.rank_first_block(me, ranks), end = layout.rank_first_block(me + 1, ranks);
  const std::size_t shards = layout.blocks.shards, width = 1 + 2 * inputs;
  std::vector<double> mine;
  for (std::size_t s = first; s < end; ++s) {
    const std::size_t from = layout.block_file_first[s] - layout.block_file_first[first];
    const ScalerPartial p = scaler_partial_fit(kind, x + from * inputs,
                                               layout.block_file_first[s + 1] - layout.block_file_first[s], inputs);
    mine.push_back(p.rows);
    mine.insert(mine.end(), p.first.begin(), p.first.end());
    mine.insert(mine.end(), p.second.begin(), p.second.end());
  }
  const std::size_t slot = (shards + ranks - 1) / ranks * width;
  const std::vector<double> all = exchange_gather(exchange, mine, slot);
  ScalerPartial merged{kind, 0, std::vector<double>(inputs), std::vector<double>(inputs)};
  for (std::size_t s = 0; s < shards; ++s) {
    const std::size_t owner = shard_rank(s, shards, ranks);
    const double* p = all.data() + owner * slot + (s - rank_first_shard(owner, shards, ranks)) * width;
    ScalerPartial block{kind, p[0], std::vector<double>(p + 1, p + 1 + inputs),
                        std::vector<double>(p + 1 + inputs, p + width)};
    scaler_partial_merge(merged, block);
  }
  return scaler_from_partial(merged);
}

// The peak resident memory of this process (VmHWM of /proc/self/status) in kB; 0 when unknown.
std::size_t peak_resident_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  std::size_t kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "VmHWM: %zu kB", &kb) == 1) break;
  std::fclose(f);
  return kb;
}

// Under mpirun: every rank's options, compared with rank 0's (a CRC-32 each, one all_gather)
// before anything else is exchanged. Options such as --val-split, --scale, --init-from or --val
// decide which collectives a rank makes before the trainer's own setup check
// (ranks_same_setup_check): a rank given others would wait in a collective no other rank makes.
// Agreed: every rank throws the same error, naming the lowest such rank and the first option.
void ranks_same_options_check(GradientExchange& exchange, const TrainOptions& o) {
  nlohmann::json j = shaping_options(o);
  j["init-from"] = o.init_from.empty() ? "no" : "yes";  // the file may lie elsewhere on each node
  j["val"] = o.val_path.empty() ? "no" : "yes";
  j["checkpoint"] = o.checkpoint_path.empty() ? "no" : std::to_string(o.train.checkpoint_every);
  j["resume"] = o.resume_path.empty() ? "no" : "yes";
  // the same keys on every rank (shaping_options sets each one), in the json's sorted order
  std::vector<std::string> names;
  std::vector<std::uint32_t> mine;
  for (const auto& [key, value] : j.items()) {
    const std::string text = value.dump();
    names.push_back(key);
    mine.push_back(crc32({reinterpret_cast<const unsigned char*>(text.data()), text.size()}));
  }
  std::vector<std::uint32_t> all(mine.size() * static_cast<std::size_t>(exchange.ranks()));
  exchange.all_gather(mine.data(), mine.size() * sizeof(std::uint32_t), all.data());
  for (std::size_t r = 1; r < static_cast<std::size_t>(exchange.ranks()); ++r)
    for (std::size_t i = 0; i < mine.size(); ++i)
      if (all[r * mine.size() + i] != all[i])
        throw AgreedError(ErrorKind::argument, "data-parallel training: rank " + std::to_string(r) +
                                                   " and rank 0 differ in their --" + names[i] +
                                                   "; start every rank with the same command line and files");
}

// `bpnn train`, alone or as one rank of a data-parallel run (exchange: README "Training on many
// machines (MPI)"): every rank reads its rows of the data and trains the same network on its
// shards of each step; rank 0 alone prints and writes the model, history, plot and checkpoints.
void run_train_on(TrainOptions& o, const CLI::App& cmd, GradientExchange* exchange) {
  const bool rank0 = exchange == nullptr || exchange->rank() == 0;
  const auto started = std::chrono::steady_clock::now();
  std::optional<Checkpoint> resumed;
  NetworkConfig config;
  TrainConfig train;
  // the options and files, checked on every rank: a failure is agreed (printed once, by rank 0)
  on_all_ranks(exchange, [&] { resumed = run_train_check(o, cmd, exchange, config, train); });
  if (exchange != nullptr) ranks_same_options_check(*exchange, o);
  // With -o /dev/stdout the model is the output: keep the progress lines out of it. Under MPI
  // only rank 0 prints.
  if (!rank0) o.quiet = true;
  const bool progress = !output_is_stdout(o.model_path) && !o.quiet;
  ProgressDisplay display(progress ? Verbosity::normal : Verbosity::quiet, o.log_every,
                          stderr_is_terminal(), stdout, stderr);
  const auto warn = [&](const std::string& text) {
    if (progress) display.warning(message_one_line(text));
    else if (!o.quiet) std::fprintf(stderr, "bpnn: warning: %s\n", message_one_line(text).c_str());
  };

  const bool autoencoder = o.targets == "inputs";
  const TrainingDataOptions read_options{.label = o.label, .classes = o.classes, .inputs = config.sizes.front(),
                                         .outputs = config.sizes.back(), .autoencoder = autoencoder,
                                         .precision = config.precision, .rows = std::nullopt};
  std::optional<TrainingData> read;
  ShardLayout layout;
  if (exchange != nullptr)
    read = training_data_read_sharded(*exchange, o.data_path, read_options, config, train, layout);
  else
    read = training_data_read(o.data_path, read_options);
  TrainingData& training = *read;
  Dataset& data = training.data;

  Network net = resumed ? std::move(resumed->network) : Network(config);
  if (!o.init_from.empty() && !resumed) on_all_ranks(exchange, [&] { load_weights(net, o.init_from); });
  training_data_describe(training, autoencoder, net.metadata());

  const Scaling scaling = parse_scaling(o.scale);
  if (resumed) {  // the checkpoint's network has its scaler
    if (autoencoder && net.scaler().active()) scaler_apply(net.scaler(), data.y.data(), data.n, data.outputs);
  } else if (scaling != Scaling::none) {
    net.set_scaler(exchange != nullptr ? scaler_fit_sharded(*exchange, scaling, layout, data.x.data(), data.inputs)
                                       : scaler_fit(scaling, data.x.data(), data.n, data.inputs));
    // An autoencoder reproduces what its first layer sees: the scaled inputs.
    if (autoencoder) scaler_apply(net.scaler(), data.y.data(), data.n, data.outputs);
  }
  else if (const auto hint = scaling_hint(data.x.data(), data.n, data.inputs, data.input_names))
    warn(*hint);
  if (const auto hint = target_range_hint(config.output_act, data)) warn(*hint);
  if (exchange != nullptr && layout.blocks.shards < static_cast<std::size_t>(exchange->ranks())) {
    const std::size_t ranks = static_cast<std::size_t>(exchange->ranks());
    std::size_t enough = layout.blocks.batch;  // the smallest batch cut into a shard per rank
    while (shard_blocks_make(enough, enough, layout.largest_weight_bytes).shards < ranks) ++enough;
    warn("--batch " + std::to_string(layout.blocks.batch) + " is cut into " + std::to_string(layout.blocks.shards) +
         " shard(s) (README \"Training on many machines (MPI)\"), fewer than the " + std::to_string(ranks) +
         " ranks: ranks " + std::to_string(layout.blocks.shards) + " and up hold no rows and only exchange "
         "gradients; --batch " + std::to_string(enough) + " or more keeps every rank busy");
  }
  net.metadata()["training"] = shaping_options(o).dump();
  // the data's stamp for --resume to check: rank 0 alone writes checkpoints, and reads the file
  on_all_ranks(exchange, [&] {
    if (rank0 && !o.checkpoint_path.empty()) net.metadata()["training_data"] = data_files_stamp(o.data_path);
  });

  // --val: under mpirun each rank reads only its blocks' rows of it. --test: only rank 0 scores
  // it, so only rank 0 reads it (a failure is agreed all the same, and printed once).
  std::optional<Dataset> validation, test;
  std::size_t validation_file_rows = 0;
  if (!o.val_path.empty() && exchange != nullptr)
    validation = validation_read_sharded(*exchange, o.val_path, o, data, config, net, autoencoder, layout,
                                         validation_file_rows);
  on_all_ranks(exchange, [&] {
    if (!o.val_path.empty() && exchange == nullptr)
      validation = companion_read(o.val_path, o, data, config, net, autoencoder);
    if (!o.test_path.empty() && rank0) test = companion_read(o.test_path, o, data, config, net, autoencoder);
  });

  char line[512];
  std::snprintf(line, sizeof line, "# %zu samples%s, %zu inputs, %zu outputs; network %s on %s",
                exchange != nullptr ? layout.file_rows : data.n,
                train.val_split > 0 ? " (a part held out by --val-split)" : "", data.inputs, data.outputs,
                std::to_string(net.n_params()).append(" parameters").c_str(), net.kernel_arch().c_str());
  display.message(line);
  std::unique_ptr<Trainer> made;
  if (exchange != nullptr) {  // this rank's rows only
    made = trainer_make_sharded(net, train, *exchange, layout, data.x.data(), data.y.data(), data.n);
    if (validation) {  // collective; the trainer keeps its own scaled copy of the rows
      trainer_validation_set_sharded(*made, layout, validation->x.data(), validation->y.data(), validation->n,
                                     validation_file_rows);
      validation.reset();
    }
  } else {
    made = validation ? std::make_unique<Trainer>(net, train, data, *validation) : std::make_unique<Trainer>(net, train, data);
  }
  Trainer& trainer = *made;
  if (resumed) {
    on_all_ranks(exchange, [&] { trainer.resume(o.resume_path); });
    display.message("# resumed after epoch " + std::to_string(trainer.epochs_done()) + " of " + o.resume_path);
  }
  if (progress)
    trainer.set_batch_callback([&](std::size_t epoch, std::size_t done, std::size_t total, double loss) {
      if (done == 0)
        display.epoch_begin(epoch + 1, train.epochs, total);
      else
        display.batch(done, loss);
    });
  // Scoring --test is not part of training: its time is left out of the epoch lines' `time`.
  double test_seconds = 0;
  TrainingHistory history;
  TrainReport report;
  try {
    report = trainer.run([&](const EpochStats& s) {
      EpochLine line;
      line.epoch = s.epoch + 1;
      line.epochs = train.epochs;
      line.train_loss = s.loss;
      line.train_accuracy = s.accuracy;
      line.val_loss = s.val_loss;
      line.val_accuracy = s.val_accuracy;
      line.learning_rate = s.learning_rate;
      line.seconds = s.seconds;
      line.samples_per_s = s.samples_per_s;
      line.best = s.best;
      line.last = trainer.should_stop();
      line.elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() - test_seconds;
      if (!rank0) return EpochAction::go_on;
      if (test) {  // the callback runs between epochs: the network may be read
        const auto t0 = std::chrono::steady_clock::now();
        const Evaluation e = evaluate(net, test->x.data(), test->y.data(), test->n);
        test_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        line.test_loss = e.loss;
        line.test_accuracy = e.accuracy;
      }
      history.add(line);
      display.epoch_end(line);
      return EpochAction::go_on;
    });
  } catch (const Error& e) {
    // Under MPI a diverged loss is the same on every rank (each sums the shards' losses in shard
    // order) and is found at the same step: agreed by construction, so printed once.
    if (exchange != nullptr && e.kind() == ErrorKind::nonfinite) throw AgreedError(e.kind(), e.what());
    throw;
  }
  on_all_ranks(exchange, [&] {
    if (rank0) save_model(net, o.model_path);
  });
  // BPNN_REPORT_PEAK_MEMORY=1 (README "Training on many machines (MPI)"): each rank's peak
  // resident memory on stderr, measured here, after training.
  if (const char* report_memory = std::getenv("BPNN_REPORT_PEAK_MEMORY");
      report_memory != nullptr && std::string(report_memory) == "1") {
    if (exchange != nullptr)
      std::fprintf(stderr, "# rank %d: peak resident memory %zu kB (VmHWM)\n", exchange->rank(), peak_resident_kb());
    else
      std::fprintf(stderr, "# peak resident memory %zu kB (VmHWM)\n", peak_resident_kb());
  }
  if (!rank0) return;
  if (!o.history_path.empty()) history.csv_write(o.history_path);
  if (!o.plot_path.empty())
    history.svg_write(o.plot_path, "bpnn train " + o.data_path + ": " + metadata_counts_format(o.layers) + " " +
                                       o.hidden_act + "/" + o.output_act + ", " + o.optimizer);
  if (report.stopped_early)
    std::snprintf(line, sizeof line, "# early stop: no better validation loss for %zu epochs; kept epoch %zu (val_loss %.9g)",
                  train.early_stop, report.best_epoch + 1, report.best_val_loss);
  else if (train.early_stop > 0)
    std::snprintf(line, sizeof line, "# kept epoch %zu, the best validation loss %.9g", report.best_epoch + 1,
                  report.best_val_loss);
  if (train.early_stop > 0) display.message(line);
  display.message("# saved " + o.model_path);
  if (exchange != nullptr) {
    std::snprintf(line, sizeof line, "# %d ranks; rank 0 spent %.3f s of %.3f s in messages (sending or waiting for other ranks)",
                  exchange->ranks(), exchange->wait_seconds(), report.seconds);
    display.message(line);
  }
}

// The exit code of `bpnn train` (an Error is thrown, for main to print).
int run_train(TrainOptions& o, const CLI::App& cmd) {
#if BPNN_HAVE_MPI
  if (mpi_launched()) {  // started by mpirun: one rank of a data-parallel run
    MpiSession session;
    MpiExchange exchange(MPI_COMM_WORLD);
    try {
      run_train_on(o, cmd, &exchange);
    } catch (const AgreedError& e) {
      // every rank holds it: rank 0 prints it, the others end with its exit code silently, but
      // only after it has (mpirun ends the job when the first rank exits with an error)
      if (exchange.rank() == 0) std::fprintf(stderr, "bpnn: %s\n", message_one_line(e.what()).c_str());
      exchange.first_rank_with(false);  // a barrier
      return exit_code_for(e.kind());
    } catch (...) {  // not agreed: this rank may hold it alone, while the others wait for it
      return mpi_job_end_current(exchange.rank());
    }
    return exit_ok;
  }
#endif
  run_train_on(o, cmd, nullptr);
  return exit_ok;
}

}  // namespace

void train_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a network on a CSV file and save it");
  cmd->add_option("data", o->data_path,
                  "CSV file: inputs, then targets (or a --label column); FILE.data or fann:FILE: FANN "
                  "data; idx:IMAGES,LABELS: an IDX pair (MNIST), plain or .gz")
      ->required();
  add_whole_list_option(*cmd, "--layers", o->layers, 2, max_layer_width,
                        "Layer widths, inputs first, comma-separated, e.g. 4,8,3 (required unless --resume)");
  cmd->add_option("-o,--output", o->model_path, "Model file to write (.safetensors)")->required();
  cmd->add_option("--hidden-act", o->hidden_act, "sigmoid|tanh|relu|linear")->capture_default_str();
  cmd->add_option("--output-act", o->output_act, "sigmoid|softmax|linear|tanh|relu")
      ->capture_default_str();
  cmd->add_option("--loss", o->loss, "mse|xent")->capture_default_str();
  constexpr double infinity = std::numeric_limits<double>::infinity();
  cmd->add_option("--optimizer", o->optimizer, "sgd|momentum|nesterov|adam|adamw|irprop")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adam", "adamw", "irprop"}));
  add_real_option(*cmd, "--lr", o->train.learning_rate, {.low = 0, .high = infinity},
                  "Learning rate, finite and ≥ 0 (default 0.1 for the SGD family, 1e-3 for adam "
                  "and adamw; irprop ignores it)")
      ->default_str("");
  add_real_option(*cmd, "--momentum", o->train.momentum, {.low = 0, .high = 1, .high_open = true},
                  "Momentum in [0, 1) (default 0 for sgd, 0.9 for momentum and nesterov)")
      ->default_str("");
  cmd->add_option_function<std::string>(
         "--betas",
         [o](const std::string& text) {
           const auto comma = text.find(',');
           if (comma == std::string::npos || text.find(',', comma + 1) != std::string::npos)
             throw Error(ErrorKind::argument, "--betas " + quoted_value(text) + ": expected two numbers, B1,B2");
           const RealRange unit{.low = 0, .high = 1, .high_open = true};
           o->train.beta1 = parse_real("--betas", std::string_view(text).substr(0, comma), unit);
           o->train.beta2 = parse_real("--betas", std::string_view(text).substr(comma + 1), unit);
         },
         "adam, adamw: β1,β2 each in [0, 1)")
      ->type_name("B1,B2")
      ->default_str("0.9,0.999");
  add_real_option(*cmd, "--eps", o->train.eps, {.low = 0, .low_open = true, .high = infinity},
                  "adam, adamw: added outside the square root, > 0");
  add_real_option(*cmd, "--l2", o->train.l2, {.low = 0, .high = infinity},
                  "Weight decay on weights (not biases): PyTorch's weight_decay, decoupled for "
                  "adamw (default 0.01 for adamw, else 0)")
      ->default_str("");
  add_real_option(*cmd, "--clip", o->train.clip, {.low = 0, .high = infinity},
                  "Clip the gradient's norm over all parameters to this (clip_grad_norm_); 0 = off");
  cmd->add_option("--targets", o->targets,
                  "columns: the last columns (or --label) are the targets; inputs: the targets are "
                  "the (scaled) inputs, for an autoencoder such as --layers 64,8,64")
      ->capture_default_str()
      ->check(CLI::IsMember({"columns", "inputs"}));
  cmd->add_option("--scale", o->scale,
                  "Fit an input scaler on the training rows and keep it in the model: "
                  "none|standard|minmax")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "standard", "minmax"}));
  add_whole_option(*cmd, "--batch", o->train.batch, 1, max_batch,
                   "Samples per step, 1 to 1e9 (1 = per-sample SGD; ≥ the data = full batch)")
      ->each([o](const std::string&) { o->batch_given = true; });
  add_whole_option(*cmd, "--epochs", o->train.epochs, 1, max_epochs,
                   "Passes over the data, 1 to 1e9");
  cmd->add_option("--init", o->init, "zero|uniform|xavier|he")->capture_default_str();
  add_real_option(*cmd, "--init-scale", o->init_scale,
                  {.low = 0, .low_open = true, .high = infinity},
                  "a of --init uniform: U(-a, a), finite and > 0");
  cmd->add_option("--init-from", o->init_from,
                  "Start from the weights of a safetensors file ({i}.weight, {i}.bias)");
  add_whole_option(*cmd, "--seed", o->train.seed, 0, std::numeric_limits<std::uint64_t>::max(),
                   "Seed of the initialiser and the shuffle, 0 to 2^64-1");
  cmd->add_flag("--no-shuffle", o->no_shuffle, "Keep the file's sample order");
  cmd->add_option("--precision", o->precision, "f32|f64")->capture_default_str();
  cmd->add_option("--label", o->label,
                  "One-hot encode this class column (header name or 0-based index) as the targets");
  cmd->add_option("--classes", o->classes,
                  "Class names in order, comma-separated: the order of --label's classes, or the "
                  "names of IDX labels 0, 1, ...")
      ->delimiter(',');
  add_whole_option(*cmd, "--threads", o->train.threads, 0, max_threads,
                   "Threads, 0 to 65536 (0 = all cores; more than the cores = all cores)");
  cmd->add_option("--backend", o->backend, "tbb|omp")
      ->capture_default_str()
      ->check(CLI::IsMember({"tbb", "omp"}));
  cmd->add_option_function<std::string>(
         "--schedule", [o](const std::string& text) { o->schedule = to_string(parse_schedule(text)); },
         "Learning rate per epoch: constant | step:EPOCHS:GAMMA | cosine | plateau:PATIENCE:FACTOR "
         "(plateau watches the validation loss, else the training loss)")
      ->type_name("SPEC")
      ->default_str("constant");
  add_real_option(*cmd, "--val-split", o->train.val_split, {.low = 0, .high = 1, .high_open = true},
                  "Hold out this fraction of the training rows (seeded by --seed; stratified for "
                  "classes) and score each epoch on it");
  cmd->add_option("--val", o->val_path, "Score each epoch on this file (the training file's columns)");
  cmd->add_option("--test", o->test_path,
                  "Also print each epoch's loss and accuracy on this file (a report only: it "
                  "steers nothing, and its time is left out of the epoch line's time)");
  add_whole_option(*cmd, "--early-stop", o->train.early_stop, 0, max_epochs,
                   "Stop when the validation loss has not been strictly below its best for this "
                   "many epochs, and keep the best epoch's weights (needs --val-split or --val)");
  cmd->add_flag("--quiet", o->quiet, "Print nothing but errors: no epoch lines, no progress bar, no warnings");
  add_whole_option(*cmd, "--log-every", o->log_every, 1, max_epochs,
                   "Print the line of every Nth epoch (1, 1+N, 1+2N, …) and of the last");
  cmd->add_option("--history", o->history_path,
                  "Write every epoch's figures to this CSV file (epoch, train/val loss and accuracy, "
                  "learning rate, seconds)");
  cmd->add_option("--plot", o->plot_path, "Draw the loss and accuracy curves into this SVG file");
  cmd->add_option("--checkpoint", o->checkpoint_path,
                  "Write a checkpoint here (atomically) every --checkpoint-every epochs and at the end");
  add_whole_option(*cmd, "--checkpoint-every", o->train.checkpoint_every, 0, max_epochs,
                   "Epochs between checkpoints (0 = only at the end)");
  cmd->add_option("--resume", o->resume_path,
                  "Continue the run saved in this checkpoint: the options that shape the model come "
                  "from it; --epochs sets the new total");
  cmd->callback([o, cmd, &exit_code] {
    exit_code = run_train(*o, *cmd);
  });
}

}  // namespace bpnn::cli
