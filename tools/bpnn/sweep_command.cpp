// bpnn sweep DATA --layers 2,4|8|16,1 --lr 0.1,0.3,1.0 --seeds 1..16 [--folds K] -o DIR:
// the Cartesian product of the listed settings, trained at once by bpnn::train_many.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/cli_values.hpp"
#include "bpnn/commands.hpp"
#include "bpnn/data.hpp"
#include "bpnn/data_source.hpp"
#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/sweep.hpp"
#include "bpnn/train.hpp"
#include "io/output_file.hpp"
#include "nn/random.hpp"
#include "nn/size_check.hpp"
#include "train/divergence.hpp"

namespace bpnn::cli {
namespace {

// Whether every weight and bias of `net` is finite (all_finite, the check training makes).
bool all_finite_parameters(const Network& net) {
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    const std::vector<double> w = net.weights(l), b = net.bias(l);
    if (!all_finite(w.data(), w.size()) || !all_finite(b.data(), b.size())) return false;
  }
  return true;
}

constexpr std::uint64_t max_threads = 65'536;
constexpr std::uint64_t max_batch = 1'000'000'000;
constexpr std::size_t max_members = 100'000;
constexpr std::uint64_t max_folds = 1000;

struct SweepOptionsText {
  std::string data_path, out_dir;
  std::string layers, lr = "default", seeds = "1", momentum = "default", l2 = "default",
                      activation = "sigmoid";
  std::string output_act = "sigmoid", loss = "mse", precision = "f32", optimizer = "sgd",
              backend = "tbb", schedule = "constant", init = "xavier";
  std::optional<std::string> label;
  std::vector<std::string> classes;
  std::size_t batch = 1, epochs = 10, folds = 0;
  double val_split = 0;
  std::string val_path;
  bool no_shuffle = false, quiet = false;
  int threads = 0;
};

// "a,b,c" → its items; Error(argument) naming the option for an empty item.
std::vector<std::string> items(std::string_view option, std::string_view text, char sep = ',') {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    const std::string_view item = text.substr(start, end == std::string_view::npos ? end : end - start);
    if (item.empty())
      throw Error(ErrorKind::argument, std::string(option) + " " + quoted_value(text) + ": an empty item");
    out.emplace_back(item);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

// "--layers 2,4|8|16,1": per position the widths it takes; the first and last are fixed.
std::vector<std::vector<std::size_t>> layer_choices(const std::string& text) {
  std::vector<std::vector<std::size_t>> positions;
  for (const std::string& item : items("--layers", text)) {
    std::vector<std::size_t> widths;
    for (const std::string& w : items("--layers", item, '|'))
      widths.push_back(parse_whole("--layers", w, 1, max_layer_width));
    positions.push_back(widths);
  }
  if (positions.size() < 2)
    throw Error(ErrorKind::argument, "--layers " + quoted_value(text) + ": at least inputs and outputs");
  if (positions.front().size() != 1 || positions.back().size() != 1)
    throw Error(ErrorKind::argument, "--layers " + quoted_value(text) +
                                         ": the inputs and outputs have one width each (| lists hidden widths)");
  std::vector<std::vector<std::size_t>> all{{}};
  for (const auto& widths : positions) {
    std::vector<std::vector<std::size_t>> next;
    for (const auto& prefix : all)
      for (std::size_t w : widths) {
        next.push_back(prefix);
        next.back().push_back(w);
      }
    all = std::move(next);
  }
  return all;
}

// "1..16", "1,5,9", "1..4,10": the seeds in order
std::vector<std::uint64_t> seed_list(const std::string& text) {
  constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  std::vector<std::uint64_t> seeds;
  for (const std::string& item : items("--seeds", text)) {
    const auto dots = item.find("..");
    if (dots == std::string::npos) {
      seeds.push_back(parse_whole("--seeds", item, 0, top));
      continue;
    }
    const std::uint64_t first = parse_whole("--seeds", item.substr(0, dots), 0, top);
    const std::uint64_t last = parse_whole("--seeds", item.substr(dots + 2), 0, top);
    if (last < first || last - first >= max_members)
      throw Error(ErrorKind::argument, "--seeds " + quoted_value(item) + ": FIRST..LAST with FIRST ≤ LAST, at most " +
                                           std::to_string(max_members) + " seeds");
    for (std::uint64_t s = first;; ++s) {
      seeds.push_back(s);
      if (s == last) break;
    }
  }
  return seeds;
}

// "default" or a comma list of finite numbers in range
std::vector<double> real_list(std::string_view option, const std::string& text, const RealRange& range) {
  if (text == "default") return {optimizer_default};
  std::vector<double> values;
  for (const std::string& item : items(option, text)) values.push_back(parse_real(option, item, range));
  return values;
}

std::string real_text(double v) {
  if (std::isnan(v)) return "default";
  char text[40];
  for (int digits = 15; digits <= 17; ++digits) {  // the shortest that reads back as v
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

std::string counts_text(const std::vector<std::size_t>& sizes) {
  std::string s;
  for (std::size_t w : sizes) s += (s.empty() ? "" : ",") + std::to_string(w);
  return s;
}

// One member's settings as the CSV and the model's metadata spell them.
struct MemberSpec {
  std::vector<std::size_t> layers;
  std::string activation;
  double lr, momentum, l2;
  std::uint64_t seed;
  std::size_t config;  // index of its configuration (everything but the seed)
};

std::string config_text(const MemberSpec& m) {
  return counts_text(m.layers) + " " + m.activation + " lr=" + real_text(m.lr) + " momentum=" +
         real_text(m.momentum) + " l2=" + real_text(m.l2);
}

// K folds of n rows: a seeded permutation, fold f = positions ≡ f (mod K); each side in file order.
std::vector<RowSplit> folds_make(std::size_t n, std::size_t k) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  Random random(1);
  random.shuffle(order.begin(), n);
  std::vector<RowSplit> folds(k);
  std::vector<std::size_t> fold_of(n);
  for (std::size_t p = 0; p < n; ++p) fold_of[order[p]] = p % k;
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t f = 0; f < k; ++f) (fold_of[r] == f ? folds[f].test : folds[f].train).push_back(r);
  return folds;
}

std::string figure(double v) {
  if (std::isnan(v)) return "";
  char text[40];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

struct Stats {
  double mean = std::numeric_limits<double>::quiet_NaN(), std = 0;
};
Stats stats_of(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.std = v.size() > 1 ? std::sqrt(sq / static_cast<double>(v.size() - 1)) : 0;
  return s;
}

void run_sweep(SweepOptionsText& o) {
  if (o.val_split > 0 && !o.val_path.empty())
    throw Error(ErrorKind::argument, "--val-split and --val: give one or the other");
  if (o.folds > 0 && (o.val_split > 0 || !o.val_path.empty()))
    throw Error(ErrorKind::argument, "--folds: each fold is the validation data; leave out --val-split and --val");
  if (o.folds == 1) throw Error(ErrorKind::argument, "--folds: at least 2");

  const auto layer_sets = layer_choices(o.layers);
  std::vector<std::string> activations = items("--activation", o.activation);
  for (const std::string& a : activations) parse_activation(a);
  constexpr double infinity = std::numeric_limits<double>::infinity();
  const auto lrs = real_list("--lr", o.lr, {.low = 0, .high = infinity});
  const auto momenta = real_list("--momentum", o.momentum, {.low = 0, .high = 1, .high_open = true});
  const auto l2s = real_list("--l2", o.l2, {.low = 0, .high = infinity});
  const auto seeds = seed_list(o.seeds);

  std::vector<MemberSpec> specs;
  std::size_t config = 0;
  for (const auto& layers : layer_sets)
    for (const std::string& act : activations)
      for (double lr : lrs)
        for (double mu : momenta)
          for (double l2 : l2s) {
            for (std::uint64_t seed : seeds) {
              specs.push_back({layers, act, lr, mu, l2, seed, config});
              if (specs.size() > max_members)
                throw Error(ErrorKind::argument, "more than " + std::to_string(max_members) + " members");
            }
            ++config;
          }

  // the output folder: created when missing, never a file
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec || !std::filesystem::is_directory(o.out_dir))
    throw Error(ErrorKind::io, o.out_dir + ": cannot be used as the output folder" +
                                   (ec ? ": " + ec.message() : std::string(" (not a folder)")));

  const Precision precision = parse_precision(o.precision);
  const std::vector<std::size_t>& shape = layer_sets.front();
  TrainingData training = training_data_read(
      o.data_path, TrainingDataOptions{.label = o.label, .classes = o.classes, .inputs = shape.front(),
                                       .outputs = shape.back(), .autoencoder = false,
                                       .precision = precision, .rows = std::nullopt});
  const Dataset& data = training.data;
  std::optional<Dataset> validation;
  if (!o.val_path.empty()) {
    const bool idx = data_spec_parse(o.val_path).format == DataFormat::idx;
    validation = training_data_read(o.val_path, TrainingDataOptions{.label = o.label,
                                                                    .classes = idx ? o.classes : data.classes,
                                                                    .inputs = shape.front(),
                                                                    .outputs = shape.back(),
                                                                    .autoencoder = false,
                                                                    .precision = precision})
                     .data;
    if (validation->classes != data.classes)
      throw Error(ErrorKind::data, o.val_path + ": its classes differ from the training data's; name them with --classes");
  }

  std::vector<SweepMember> members;
  for (const MemberSpec& s : specs) {
    SweepMember m;
    m.network.sizes = s.layers;
    m.network.hidden_act = parse_activation(s.activation);
    m.network.output_act = parse_activation(o.output_act);
    m.network.loss = parse_loss(o.loss);
    m.network.precision = precision;
    m.network.init = parse_init(o.init);
    m.network.seed = s.seed;
    m.train.optimizer = parse_optimizer(o.optimizer);
    m.train.learning_rate = s.lr;
    m.train.momentum = s.momentum;
    m.train.l2 = s.l2;
    m.train.batch = o.batch;
    m.train.epochs = o.epochs;
    m.train.shuffle = !o.no_shuffle;
    m.train.seed = s.seed;
    m.train.schedule = parse_schedule(o.schedule);
    m.train.val_split = o.val_split;
    members.push_back(m);
  }
  SweepOptions options;
  options.threads = o.threads;
  options.backend = o.backend == "omp" ? Backend::omp : Backend::tbb;

  const std::size_t folds = std::max<std::size_t>(o.folds, 1);
  const std::vector<RowSplit> fold_rows = o.folds > 0 ? folds_make(data.n, o.folds) : std::vector<RowSplit>{};
  std::size_t lanes = 0, diverged = 0, saved = 0;
  const std::size_t digits = std::max<std::size_t>(3, std::to_string(members.size() - 1).size());
  std::string csv =
      "member,fold,layers,activation,lr,momentum,l2,seed,train_loss,train_accuracy,val_loss,"
      "val_accuracy,epochs_run,lane_path,diverged\n";
  // per configuration: the validation (else training) losses over seeds and folds
  std::vector<std::vector<double>> scores(config), train_losses(config), accuracies(config);
  const bool has_val = o.folds > 0 || o.val_split > 0 || validation;
  for (std::size_t f = 0; f < folds; ++f) {
    std::vector<SweepResult> results;
    if (o.folds > 0) {
      if (fold_rows[f].train.empty() || fold_rows[f].test.empty())
        throw Error(ErrorKind::argument, "--folds " + std::to_string(o.folds) + ": more folds than samples");
      results = train_many(members, dataset_rows(data, fold_rows[f].train), dataset_rows(data, fold_rows[f].test), options);
    } else {
      results = validation ? train_many(members, data, *validation, options) : train_many(members, data, options);
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
      SweepResult& r = results[i];
      const MemberSpec& s = specs[i];
      lanes += r.lane_path;
      diverged += !r.diverged.empty();
      std::string number = std::to_string(i);
      number.insert(0, digits - number.size(), '0');
      const std::string name = "member-" + number +
                               (o.folds > 0 ? "-fold-" + std::to_string(f + 1) : std::string()) + ".safetensors";
      nlohmann::json meta;
      meta["member"] = i;
      meta["layers"] = counts_text(s.layers);
      meta["hidden-act"] = s.activation;
      meta["output-act"] = o.output_act;
      meta["loss"] = o.loss;
      meta["optimizer"] = o.optimizer;
      meta["lr"] = real_text(s.lr);
      meta["momentum"] = real_text(s.momentum);
      meta["l2"] = real_text(s.l2);
      meta["seed"] = std::to_string(s.seed);
      meta["batch"] = std::to_string(o.batch);
      meta["epochs"] = std::to_string(o.epochs);
      meta["schedule"] = o.schedule;
      meta["val-split"] = real_text(o.val_split);
      if (o.folds > 0) meta["fold"] = std::to_string(f + 1) + "/" + std::to_string(o.folds);
      training_data_describe(training, false, r.network.metadata());
      r.network.metadata()["sweep"] = meta.dump();
      // a member whose weights overflowed while its loss stayed finite holds them: no file can
      // hold such a model (save_model refuses it), sweep.csv marks the member diverged
      if (all_finite_parameters(r.network))
        save_model(r.network, (std::filesystem::path(o.out_dir) / name).string()), ++saved;
      csv += std::to_string(i) + "," + (o.folds > 0 ? std::to_string(f + 1) : std::string()) + ",\"" +
             counts_text(s.layers) + "\"," + s.activation + "," + real_text(s.lr) + "," +
             real_text(s.momentum) + "," + real_text(s.l2) + "," + std::to_string(s.seed) + "," +
             figure(r.report.final_loss) + "," + figure(r.train_accuracy) + "," + figure(r.val_loss) + "," +
             figure(r.val_accuracy) + "," + std::to_string(r.report.epochs_run) + "," +
             (r.lane_path ? "1" : "0") + "," + (r.diverged.empty() ? "0" : "1") + "\n";
      if (!r.diverged.empty()) continue;
      scores[s.config].push_back(has_val ? r.val_loss : r.report.final_loss);
      train_losses[s.config].push_back(r.report.final_loss);
      const double acc = has_val ? r.val_accuracy : r.train_accuracy;
      if (!std::isnan(acc)) accuracies[s.config].push_back(acc);
    }
  }
  output_file_write((std::filesystem::path(o.out_dir) / "sweep.csv").string(), csv);
  if (diverged == members.size() * folds)
    throw Error(ErrorKind::nonfinite, "training diverged for every member (try smaller learning rates); "
                                      "sweep.csv and the finite models are written to " + o.out_dir);
  if (o.quiet) return;

  // the summary: one line per configuration, best first
  std::vector<std::size_t> rank(config);
  for (std::size_t c = 0; c < config; ++c) rank[c] = c;
  const auto key = [&](std::size_t c) {
    const Stats s = stats_of(scores[c]);
    return std::isnan(s.mean) ? infinity : s.mean;
  };
  std::stable_sort(rank.begin(), rank.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  std::vector<const MemberSpec*> first_of(config, nullptr);
  for (const MemberSpec& s : specs)
    if (!first_of[s.config]) first_of[s.config] = &s;
  std::printf("# %zu members (%zu configurations × %zu seeds%s), %zu by the lane kernel, %zu diverged\n",
              members.size(), config, seeds.size(),
              o.folds > 0 ? (" × " + std::to_string(o.folds) + " folds").c_str() : "", lanes, diverged);
  const char* what = o.folds > 0 ? "cross-validation loss" : has_val ? "validation loss" : "training loss";
  std::printf("# sorted by %s (mean ± std over %s)\n", what, o.folds > 0 ? "seeds and folds" : "seeds");
  std::printf("%-4s  %-24s  %-26s  %-20s  %s\n", "rank", "score", "accuracy", "train_loss", "configuration");
  const std::size_t shown = std::min<std::size_t>(config, 20);
  for (std::size_t k = 0; k < shown; ++k) {
    const std::size_t c = rank[k];
    const Stats s = stats_of(scores[c]), a = stats_of(accuracies[c]), t = stats_of(train_losses[c]);
    char score[64], acc[64], tl[64];
    std::snprintf(score, sizeof score, "%.6g ± %.2g", s.mean, s.std);
    if (std::isnan(a.mean))
      std::snprintf(acc, sizeof acc, "-");
    else
      std::snprintf(acc, sizeof acc, "%.4f ± %.2g", a.mean, a.std);
    std::snprintf(tl, sizeof tl, "%.6g", t.mean);
    std::printf("%-4zu  %-24s  %-26s  %-20s  %s\n", k + 1, score, acc, tl, config_text(*first_of[c]).c_str());
  }
  if (shown < config) std::printf("# … %zu more in %s/sweep.csv\n", config - shown, o.out_dir.c_str());
  std::printf("# wrote %s/sweep.csv and %zu models\n", o.out_dir.c_str(), saved);
}

}  // namespace

void sweep_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SweepOptionsText>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Train many networks at once: the Cartesian product of the listed settings");
  cmd->add_option("data", o->data_path, "Training data, as for bpnn train (CSV, FANN .data, idx:IMAGES,LABELS)")
      ->required();
  cmd->add_option("--layers", o->layers,
                  "Layer widths, inputs first; | lists the widths a hidden layer takes, e.g. 2,4|8|16,1")
      ->required();
  cmd->add_option("--lr", o->lr, "Learning rates, comma-separated (default: the optimizer's)");
  cmd->add_option("--seeds", o->seeds,
                  "Seeds of the initial weights and the shuffle: 1..16, 1,5,9 or a mix")
      ->capture_default_str();
  cmd->add_option("--momentum", o->momentum, "Momenta in [0, 1), comma-separated");
  cmd->add_option("--l2", o->l2, "Weight decays ≥ 0, comma-separated");
  cmd->add_option("--activation", o->activation, "Hidden activations, comma-separated: sigmoid,tanh,relu,linear")
      ->capture_default_str();
  cmd->add_option("--output-act", o->output_act, "sigmoid|softmax|linear|tanh|relu")->capture_default_str();
  cmd->add_option("--loss", o->loss, "mse|xent")->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "sgd|momentum|nesterov|adam|adamw|irprop")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adam", "adamw", "irprop"}));
  cmd->add_option("--init", o->init, "zero|uniform|xavier|he")->capture_default_str();
  add_whole_option(*cmd, "--batch", o->batch, 1, max_batch, "Samples per step (1 = per-sample SGD)");
  add_whole_option(*cmd, "--epochs", o->epochs, 1, max_epochs, "Passes over the data, 1 to 1e9");
  cmd->add_option_function<std::string>(
         "--schedule", [o](const std::string& text) { o->schedule = to_string(parse_schedule(text)); },
         "Learning rate per epoch: constant | step:EPOCHS:GAMMA | cosine | plateau:PATIENCE:FACTOR")
      ->type_name("SPEC")
      ->default_str("constant");
  cmd->add_option("--precision", o->precision, "f32|f64")->capture_default_str();
  cmd->add_option("--label", o->label, "One-hot encode this class column (header name or 0-based index)");
  cmd->add_option("--classes", o->classes, "Class names in order, comma-separated")->delimiter(',');
  add_real_option(*cmd, "--val-split", o->val_split, {.low = 0, .high = 1, .high_open = true},
                  "Hold out this fraction of the rows (each member's own seeded split, as bpnn train)");
  cmd->add_option("--val", o->val_path, "Score every member on this file");
  add_whole_option(*cmd, "--folds", o->folds, 0, max_folds,
                   "K-fold cross-validation of every member (0 = off): mean ± std per configuration");
  cmd->add_flag("--no-shuffle", o->no_shuffle, "Keep the file's sample order");
  add_whole_option(*cmd, "--threads", o->threads, 0, max_threads, "Threads (0 = all cores); results never depend on it");
  cmd->add_option("--backend", o->backend, "tbb|omp")->capture_default_str()->check(CLI::IsMember({"tbb", "omp"}));
  cmd->add_option("-o,--output", o->out_dir, "Output folder: member-NNN.safetensors and sweep.csv")->required();
  cmd->add_flag("--quiet", o->quiet, "Print nothing but errors");
  cmd->callback([o, &exit_code] {
    run_sweep(*o);
    exit_code = 0;
  });
}

}  // namespace bpnn::cli
