// train_many: lane groups through KernelTable::sweep_sample_sgd, every other member through the
// single-network trainer; see include/bpnn/sweep.hpp.
#include "bpnn/sweep.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <tuple>
#include <variant>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/evaluate.hpp"
#include "kernels/cache_info.hpp"
#include "kernels/reference/sweep_reference.hpp"
#include "nn/network_impl.hpp"
#include "nn/random.hpp"
#include "nn/size_check.hpp"
#include "train/divergence.hpp"
#include "train/parallel.hpp"
#include "train/schedule.hpp"

namespace bpnn {
namespace {

std::string member_name(std::size_t i) { return "member " + std::to_string(i); }

// The data set in T, as the trainer converts it, shared by every lane group of that precision:
// one row per sample, its inputs followed by its targets, from which the lane kernel gathers
// each lane's sample itself.
template <class T>
struct DataIn {
  std::size_t n = 0, inputs = 0, outputs = 0, stride = 0;  // stride = inputs + outputs
  AlignedVector<T> rows;
  const T* targets(std::size_t row) const { return rows.data() + row * stride + inputs; }
};

template <class T>
DataIn<T> data_in(const Dataset& data) {
  DataIn<T> d{data.n, data.inputs, data.outputs, data.inputs + data.outputs, {}};
  d.rows.resize(d.n * d.stride);
  for (std::size_t r = 0; r < d.n; ++r) {
    T* row = d.rows.data() + r * d.stride;
    for (std::size_t i = 0; i < d.inputs; ++i) {
      row[i] = static_cast<T>(data.x[r * d.inputs + i]);
      if (!std::isfinite(row[i]))
        throw Error(ErrorKind::data, "training data: input " + std::to_string(i) + " of sample " +
                                         std::to_string(r) + " is not finite in this precision");
    }
    for (std::size_t j = 0; j < d.outputs; ++j) {
      row[d.inputs + j] = static_cast<T>(data.y[r * d.outputs + j]);
      if (!std::isfinite(row[d.inputs + j]))
        throw Error(ErrorKind::data, "training data: target " + std::to_string(j) + " of sample " +
                                         std::to_string(r) + " is not finite in this precision");
    }
  }
  return d;
}

// The rows a member trains on and is scored on, as the trainer splits them.
struct MemberRows {
  std::vector<std::size_t> train, validation;  // empty validation: none (or the shared set)
};

MemberRows member_rows(const TrainConfig& c, const Dataset& data) {
  MemberRows rows;
  if (c.val_split > 0) {
    RowSplit split = split_rows_stratified(data.y.data(), data.n, data.outputs, c.val_split, c.seed);
    if (split.train.empty() || split.test.empty())
      throw Error(ErrorKind::argument, "val_split: " + std::to_string(data.n) +
                                           " samples are too few to hold out a validation part");
    rows.train = std::move(split.train);
    rows.validation = std::move(split.test);
  } else {
    rows.train.resize(data.n);
    std::iota(rows.train.begin(), rows.train.end(), std::size_t{0});
  }
  return rows;
}

// The final validation score of a trained member, by bpnn::evaluate.
void validation_score(SweepResult& r, const Dataset& data, const std::vector<std::size_t>& rows,
                      const Dataset* validation) {
  Evaluation e;
  if (validation) {
    e = evaluate(r.network, validation->x.data(), validation->y.data(), validation->n);
  } else if (!rows.empty()) {
    std::vector<double> x, y;
    for (std::size_t row : rows) {
      x.insert(x.end(), data.x.begin() + row * data.inputs, data.x.begin() + (row + 1) * data.inputs);
      y.insert(y.end(), data.y.begin() + row * data.outputs, data.y.begin() + (row + 1) * data.outputs);
    }
    e = evaluate(r.network, x.data(), y.data(), rows.size());
  } else {
    return;
  }
  r.val_loss = e.loss;
  r.val_accuracy = e.accuracy;
}

std::string diverged_message(double loss, std::size_t epoch) {
  return "training diverged: the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
         " in epoch " + std::to_string(epoch + 1) +
         "; the network keeps the weights from before that step (try a smaller learning rate)";
}

// A member through the single-network trainer, on one thread.
void single_train(const SweepMember& member, const Dataset& data, const Dataset* validation,
                  SweepResult& r) {
  TrainConfig c = member.train;
  c.threads = 1;
  c.checkpoint.clear();
  std::size_t epochs = 0;
  EpochStats last;
  const auto on_epoch = [&](const EpochStats& s) {
    ++epochs;
    last = s;
    return EpochAction::go_on;
  };
  const auto start = std::chrono::steady_clock::now();
  try {
    r.report = validation ? train(r.network, c, data, *validation, on_epoch)
                          : train(r.network, c, data, on_epoch);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::nonfinite) throw;
    r.diverged = e.what();
    r.report.epochs_run = epochs;
    r.report.final_loss = epochs > 0 ? last.loss : std::numeric_limits<double>::quiet_NaN();
  }
  r.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.train_accuracy = epochs > 0 ? last.accuracy : std::numeric_limits<double>::quiet_NaN();
  validation_score(r, data, member_rows(train_config_resolve(c), data).validation, validation);
}

enum class Classes { none, one_hot, binary };

// As TrainerCore: one-hot rows when every target is 0/1 and each row has one 1 (K > 1), one 0/1
// column, or none.
template <class T>
Classes classes_of(const DataIn<T>& d, const std::vector<std::size_t>& rows) {
  const std::size_t k = d.outputs;
  bool all_01 = true, one_hot = k > 1;
  for (std::size_t row : rows) {
    const T* t = d.targets(row);
    std::size_t ones = 0;
    for (std::size_t j = 0; j < k; ++j) {
      all_01 = all_01 && (t[j] == T(0) || t[j] == T(1));
      ones += t[j] == T(1);
    }
    one_hot = one_hot && ones == 1;
  }
  if (!all_01) return Classes::none;
  return one_hot ? Classes::one_hot : (k == 1 ? Classes::binary : Classes::none);
}

// The kernel of a precision's lane groups: the table's, or the scalar reference with W = 8.
template <class T>
struct LaneKernel {
  std::size_t (*steps)(const kernels::SweepNet&, std::size_t, const T*, const std::int64_t*, const T*,
                       const T*, T*, T*, T*, double*);
  std::size_t lanes;             // W
  std::size_t narrow_elements;   // E of the narrow groups it takes (1: none)
  std::size_t short_chain_lanes, short_chain_width;  // KernelTable's (0: none)
};
template <class T>
LaneKernel<T> lane_kernel() {
  const kernels::KernelTable<T>& table = kernels::kernels_select<T>();
  if (!table.sweep_sample_sgd) return {kernels::sweep_sample_sgd_reference<T>, 8, 1, 0, 0};
  return {table.sweep_sample_sgd, table.sweep_lanes, table.sweep_narrow_elements,
          table.sweep_short_chain_lanes, table.sweep_short_chain_width};
}

// Elements per member (SweepNet::elements) for a shape's lane groups. Automatic: narrow groups
// when a full group's parameters and work buffer outgrow the L1 data cache and a narrow group's
// fit in it (per-sample SGD reads and writes every parameter at every step; README "Many networks
// at once"), else full groups.
template <class T>
std::size_t lane_elements(const NetworkConfig& shape, LaneGroups groups) {
  const LaneKernel<T> kernel = lane_kernel<T>();
  if (kernel.narrow_elements == 1 || groups == LaneGroups::full) return 1;
  if (groups == LaneGroups::narrow) return kernel.narrow_elements;
  const auto bytes = [&](std::size_t elements) {
    const kernels::SweepLayout layout =
        kernels::sweep_layout(shape.sizes, shape.hidden_act, shape.output_act, kernel.lanes, elements);
    return (layout.params_size + layout.work_size) * sizeof(T);
  };
  const std::size_t l1 = kernels::cache_sizes().l1d;
  return bytes(1) > l1 && bytes(kernel.narrow_elements) <= l1 ? kernel.narrow_elements : 1;
}

// Lanes of a shape's groups of `elements` per member, for `count` members on `threads` threads:
// the kernel's vector width W, or for a short chain in full groups (every layer at most
// short_chain_width inputs and outputs, the seed network) P·W lanes, P vectors per value whose P
// chains advance together: as many vectors as a thread's share of the members fills, up to the
// kernel's short_chain_lanes (so that no group pads far beyond its members, and the threads
// still get a group each). Results never depend on it: each member's operations are its own.
template <class T>
std::size_t group_lanes(const NetworkConfig& shape, std::size_t elements, std::size_t count, int threads) {
  const LaneKernel<T> kernel = lane_kernel<T>();
  bool short_chain = elements == 1 && kernel.short_chain_lanes > 0;
  for (std::size_t l = 0; l + 1 < shape.sizes.size(); ++l)
    short_chain = short_chain && shape.sizes[l] <= kernel.short_chain_width &&
                  shape.sizes[l + 1] <= kernel.short_chain_width;
  if (!short_chain) return kernel.lanes;
  const std::size_t share = (count + static_cast<std::size_t>(std::max(threads, 1)) - 1) /
                            static_cast<std::size_t>(std::max(threads, 1));
  const std::size_t vectors = std::clamp<std::size_t>((share + kernel.lanes - 1) / kernel.lanes, 1,
                                                      kernel.short_chain_lanes / kernel.lanes);
  return vectors * kernel.lanes;
}

// Member m's column of the group's (n, W) row offsets: element t is where its t-th sample of the
// epoch starts. Random::shuffle permutes it in place, by the swaps it makes on the trainer's order
// of rows, so the column holds the trainer's rows in the trainer's order (a shuffle permutes
// positions whatever they hold), and the lane kernel reads each step's W offsets from it as they
// stand: no per-step copy of the members' orders into lanes.
struct OffsetColumn {
  std::int64_t* first;
  std::size_t stride;  // W
  std::int64_t& operator[](std::uint64_t t) const { return first[t * stride]; }
};

// A lane group: up to W / E members of one shape, trained together by the lane kernel.
template <class T>
void lanes_train(const std::vector<std::size_t>& ids, std::size_t lanes, std::size_t elements,
                 const std::vector<SweepMember>& members, const Dataset& data, const DataIn<T>& d,
                 const Dataset* validation, std::vector<SweepResult>& results) {
  const LaneKernel<T> kernel = lane_kernel<T>();
  const auto run_steps = kernel.steps;
  const std::size_t W = lanes, E = elements, G = W / E;  // lanes, per member, members
  const std::size_t used = ids.size();
  const NetworkConfig& shape = members[ids[0]].network;
  const std::size_t L = shape.sizes.size() - 1;
  const std::size_t in0 = shape.sizes.front(), k = shape.sizes.back();

  // member m trains members[ids[m]]; members past `used` repeat member 0, and their results are
  // dropped
  const auto member_of = [&](std::size_t m) { return ids[m < used ? m : 0]; };
  std::vector<TrainConfig> configs;
  std::vector<MemberRows> rows;
  std::vector<Random> random;
  std::vector<LearningRateSchedule> schedules;
  std::vector<Classes> classes;
  std::optional<Classes> classes_all_rows;  // members without a held-out split: one look for all
  std::vector<std::size_t> all_rows;        // their training rows: every row
  const auto train_rows_of = [&](std::size_t m) -> const std::vector<std::size_t>& {
    return configs[m].val_split > 0 ? rows[m].train : all_rows;
  };
  std::vector<T> weights, bias;
  for (std::size_t m = 0; m < used; ++m) {
    const TrainConfig& c = configs.emplace_back(train_config_resolve(members[ids[m]].train));
    // a member without a held-out split trains on every row: one list of them for all such
    // members, not one each
    rows.push_back(c.val_split > 0 ? member_rows(c, data) : MemberRows{});
    random.emplace_back(c.seed);
    schedules.emplace_back(c.schedule, c.learning_rate, c.epochs);
    if (c.val_split > 0) {
      classes.push_back(classes_of(d, rows.back().train));
    } else if (!classes_all_rows) {
      all_rows.resize(data.n);
      std::iota(all_rows.begin(), all_rows.end(), std::size_t{0});
      classes.push_back(*(classes_all_rows = classes_of(d, all_rows)));
    } else {
      classes.push_back(*classes_all_rows);
    }
    if (train_rows_of(m).size() != train_rows_of(0).size())
      throw Error(ErrorKind::internal, "train_many: members of one lane group hold out different counts");
  }
  bool any_classes = false;
  for (Classes c : classes) any_classes = any_classes || c != Classes::none;
  // the group's layout: lane-interleaved parameters and work buffers; members with classes count
  // their correct ones from a ŷ log of `logged` steps per call (SweepNet), read after each call
  constexpr std::size_t logged = 64;
  const kernels::SweepLayout layout =
      kernels::sweep_layout(shape.sizes, shape.hidden_act, shape.output_act, W, E, any_classes ? logged : 0);
  const kernels::SweepNet net = layout.net();
  // the group's buffers — parameters, work (with the ŷ log) and the (n, W) row offsets — before
  // any is allocated: W members of a network hold W times its memory
  const std::string what = "train_many lane group";
  check_fits_in_memory(
      checked_add(checked_mul(checked_add(layout.params_size, layout.work_size, what), sizeof(T), what),
                  checked_mul(checked_mul(train_rows_of(0).size(), W, what), sizeof(std::int64_t), what), what),
      what + " (parameters, work buffers and row offsets of " + std::to_string(W) + " lanes)");
  AlignedVector<T> params(layout.params_size), work(layout.work_size);
  for (std::size_t m = 0; m < G; ++m) {
    const Mlp<T>& mlp = std::get<Mlp<T>>(NetworkAccess::impl(results[member_of(m)].network).mlp);
    for (std::size_t l = 0; l < L; ++l) {
      const kernels::SweepLayer& s = layout.layer[l];
      weights.resize(s.in * s.out);
      bias.resize(s.out);
      mlp.get_layer(l, weights.data(), bias.data());
      for (std::size_t o = 0; o < s.out; ++o) {
        params[layout.bias_index(l, o, m)] = bias[o];
        for (std::size_t i = 0; i < s.in; ++i)
          params[layout.weight_index(l, o, i, m)] = weights[o * s.in + i];
      }
    }
  }

  const std::size_t n = train_rows_of(0).size();
  const std::size_t epochs = configs[0].epochs;
  // per lane (member m in lanes mE … mE + E − 1)
  AlignedVector<T> lr(W), keep(W, T(1)), loss(W);
  // (n, W): where lane c's row of step t starts, member m's column in its E lanes (OffsetColumn)
  // (not zeroed: every element is written here, step by step, in the order it is stored)
  const std::unique_ptr<std::int64_t[]> row_offset(new std::int64_t[n * W]);
  const auto stride = static_cast<std::int64_t>(d.stride);
  {
    std::vector<const std::size_t*> train_rows(G);
    for (std::size_t m = 0; m < G; ++m) train_rows[m] = train_rows_of(m < used ? m : 0).data();
    for (std::size_t t = 0; t < n; ++t) {
      std::int64_t* step = row_offset.get() + t * W;
      if (E == 1) {
        for (std::size_t m = 0; m < G; ++m) step[m] = static_cast<std::int64_t>(train_rows[m][t]) * stride;
        continue;
      }
      for (std::size_t m = 0; m < G; ++m)
        for (std::size_t e = 0; e < E; ++e) step[m * E + e] = static_cast<std::int64_t>(train_rows[m][t]) * stride;
    }
  }
  // a member's column in its other E − 1 lanes, and member 0's in the padding members' lanes
  const bool copies = E > 1 || used < G;
  const auto column_copies = [&] {
    for (std::size_t t = 0; t < n; ++t) {
      std::int64_t* step = row_offset.get() + t * W;
      for (std::size_t m = 0; m < G; ++m) {
        const std::int64_t offset = step[(m < used ? m : 0) * E];
        for (std::size_t e = m < used ? 1 : 0; e < E; ++e) step[m * E + e] = offset;
      }
    }
  };
  for (MemberRows& r : rows) std::vector<std::size_t>().swap(r.train);  // in row_offset now
  std::vector<std::size_t>().swap(all_rows);
  const T* keep_lanes = nullptr;  // null while every lane trains: the kernel's unmasked form
  // per member
  std::vector<char> active(G, 1);
  AlignedVector<double> loss_sum(W);  // per lane, summed by the kernel
  std::vector<std::size_t> correct(G), epochs_done(G, 0);
  std::vector<double> last_loss(G, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> last_accuracy(G, std::numeric_limits<double>::quiet_NaN());
  const auto start = std::chrono::steady_clock::now();
  const auto diverge = [&](std::size_t m, const std::string& why) {
    if (!active[m]) return;
    active[m] = 0;
    std::fill(keep.begin() + static_cast<std::ptrdiff_t>(m * E),
              keep.begin() + static_cast<std::ptrdiff_t>((m + 1) * E), T(0));
    keep_lanes = keep.data();
    if (m < used) results[ids[m]].diverged = why;
  };
  // whether member m's parameters are all finite (its lanes of every layer)
  const auto member_finite = [&](std::size_t m) {
    for (std::size_t l = 0; l < L; ++l) {
      const kernels::SweepLayer& s = layout.layer[l];
      for (std::size_t o = 0; o < s.out; ++o) {
        if (!std::isfinite(params[layout.bias_index(l, o, m)])) return false;
        for (std::size_t i = 0; i < s.in; ++i)
          if (!std::isfinite(params[layout.weight_index(l, o, i, m)])) return false;
      }
    }
    return true;
  };
  // the members of a group all shuffle or all do not (GroupKey)
  const bool shuffled = configs[0].shuffle;
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    if (shuffled) {
      for (std::size_t m = 0; m < used; ++m) random[m].shuffle(OffsetColumn{row_offset.get() + m * E, W}, n);
      if (copies) column_copies();
    }
    for (std::size_t m = 0; m < G; ++m) {
      const T rate = static_cast<T>(schedules[m < used ? m : 0].rate(epoch));
      std::fill(lr.begin() + static_cast<std::ptrdiff_t>(m * E),
                lr.begin() + static_cast<std::ptrdiff_t>((m + 1) * E), rate);
    }
    std::fill(loss_sum.begin(), loss_sum.end(), 0.0);
    std::fill(correct.begin(), correct.end(), std::size_t{0});
    // the kernel runs the epoch's steps (at most `logged` per call when it counts correct
    // classes, which reads each step's ŷ from the log) and sums each lane's loss; it stops early
    // at a non-finite loss of a member that trains, which is masked from then on
    for (std::size_t s = 0; s < n;) {
      const std::size_t count = any_classes ? std::min(logged, n - s) : n - s;
      const std::int64_t* offset = row_offset.get() + s * W;
      const std::size_t made = run_steps(net, count, d.rows.data(), offset, lr.data(), keep_lanes,
                                         params.data(), work.data(), loss.data(), loss_sum.data());
      s += made;
      if (any_classes) {
        // the steps just made, from the ŷ log (a member that diverged in them counts no more: its
        // accuracy is never reported)
        const T* yhat = work.data();
        for (std::size_t t = 0; t < made; ++t) {
          offset = row_offset.get() + (s - made + t) * W;
          for (std::size_t m = 0; m < used; ++m) {
            if (!active[m]) continue;
            const T* y = d.rows.data() + offset[m * E] + in0;
            if (classes[m] == Classes::binary) {
              correct[m] += (yhat[layout.logged_output_index(t, 0, m)] > T(0.5)) == (y[0] > T(0.5));
            } else if (classes[m] == Classes::one_hot) {
              std::size_t best_p = 0, best_t = 0;
              for (std::size_t j = 1; j < k; ++j) {
                if (yhat[layout.logged_output_index(t, j, m)] > yhat[layout.logged_output_index(t, best_p, m)])
                  best_p = j;
                if (y[j] > y[best_t]) best_t = j;
              }
              correct[m] += best_p == best_t;
            }
          }
        }
      }
      if (made < count && !keep_lanes) {  // step s not made: mask the failing members, again
        for (std::size_t m = 0; m < G; ++m)
          if (!std::isfinite(loss[m * E])) diverge(m, diverged_message(loss[m * E], epoch));
        continue;
      }
      if (keep_lanes)
        for (std::size_t m = 0; m < G; ++m)
          if (active[m] && !std::isfinite(loss[m * E])) diverge(m, diverged_message(loss[m * E], epoch));
    }
    // the epoch's last update, if the kernel left it pending (kernels.hpp, SweepNet)
    kernels::sweep_pending_apply(net, params.data(), work.data());
    for (std::size_t m = 0; m < used; ++m) {
      if (!active[m]) continue;
      if (!member_finite(m)) {  // as bpnn::train: the epoch does not count (divergence.hpp)
        diverge(m, weights_diverged_message(epoch + 1));
        continue;
      }
      epochs_done[m] = epoch + 1;
      last_loss[m] = loss_sum[m * E] / static_cast<double>(n);
      if (classes[m] != Classes::none)
        last_accuracy[m] = static_cast<double>(correct[m]) / static_cast<double>(n);
    }
    if (std::none_of(active.begin(), active.begin() + static_cast<std::ptrdiff_t>(used),
                     [](char a) { return a != 0; }))
      break;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  for (std::size_t m = 0; m < used; ++m) {
    SweepResult& r = results[ids[m]];
    Mlp<T>& mlp = std::get<Mlp<T>>(NetworkAccess::impl(r.network).mlp);
    for (std::size_t l = 0; l < L; ++l) {
      const kernels::SweepLayer& s = layout.layer[l];
      weights.resize(s.in * s.out);
      bias.resize(s.out);
      for (std::size_t o = 0; o < s.out; ++o) {
        bias[o] = params[layout.bias_index(l, o, m)];
        for (std::size_t i = 0; i < s.in; ++i)
          weights[o * s.in + i] = params[layout.weight_index(l, o, i, m)];
      }
      mlp.set_layer(l, weights.data(), bias.data());
    }
    r.lane_path = true;
    r.report.epochs_run = epochs_done[m];
    r.report.final_loss = last_loss[m];
    r.report.seconds = seconds;
    r.train_accuracy = last_accuracy[m];
    validation_score(r, data, rows[m].validation, validation);
  }
}

// Members that share everything the lane kernel needs to be shared.
using GroupKey = std::tuple<Precision, std::vector<std::size_t>, Activation, Activation, std::size_t,
                            double, bool>;

std::vector<SweepResult> many_train(const std::vector<SweepMember>& members, const Dataset& data,
                                    const Dataset* validation, const SweepOptions& options) {
  if (members.empty()) throw Error(ErrorKind::argument, "train_many: no members");
  if (data.n == 0) throw Error(ErrorKind::argument, "training data: no samples");
  std::vector<bool> lanes(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    const SweepMember& m = members[i];
    try {
      validate(m.network);
      const TrainConfig c = train_config_resolve(m.train);
      if (m.network.sizes.front() != data.inputs || m.network.sizes.back() != data.outputs)
        throw Error(ErrorKind::argument,
                    "the network has " + std::to_string(m.network.sizes.front()) + " inputs and " +
                        std::to_string(m.network.sizes.back()) + " outputs, the data " +
                        std::to_string(data.inputs) + " and " + std::to_string(data.outputs));
      if (c.batch == 0) throw Error(ErrorKind::argument, "batch: must be at least 1");
      if (c.epochs == 0 || c.epochs > max_epochs)
        throw Error(ErrorKind::argument, "epochs: must be between 1 and " + std::to_string(max_epochs) +
                                             ", not " + std::to_string(c.epochs));
      if (!(c.val_split >= 0 && c.val_split < 1))
        throw Error(ErrorKind::argument, "val_split: must be in [0, 1), not " + std::to_string(c.val_split));
      if (validation && c.val_split > 0)
        throw Error(ErrorKind::argument, "val_split must be 0 when a validation set is given");
      if (validation && (validation->inputs != data.inputs || validation->outputs != data.outputs))
        throw Error(ErrorKind::argument, "the validation set's columns differ from the data's");
      lanes[i] = sweep_lane_path(m);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::argument) throw;
      throw Error(ErrorKind::argument, member_name(i) + ": " + e.what());
    }
  }

  std::vector<SweepResult> results;
  results.reserve(members.size());
  for (const SweepMember& m : members) results.emplace_back(Network(m.network));

  // tasks: lane groups of W members of one shape, in the members' order, then one task per
  // other member
  std::map<GroupKey, std::vector<std::size_t>> shapes;
  std::vector<std::size_t> singles;
  std::optional<DataIn<float>> data_f32;
  std::optional<DataIn<double>> data_f64;
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (!lanes[i]) {
      singles.push_back(i);
      continue;
    }
    const SweepMember& m = members[i];
    const TrainConfig c = train_config_resolve(m.train);
    shapes[GroupKey{m.network.precision, m.network.sizes, m.network.hidden_act,
                    m.network.output_act, c.epochs, c.val_split, c.shuffle}]
        .push_back(i);
    if (m.network.precision == Precision::f32 && !data_f32) data_f32 = data_in<float>(data);
    if (m.network.precision == Precision::f64 && !data_f64) data_f64 = data_in<double>(data);
  }
  struct Task {
    std::vector<std::size_t> ids;
    bool lanes;
    std::size_t width, elements;  // of a lane group: SweepNet::lanes and elements
  };
  std::vector<Task> tasks;
  ParallelFor parallel(options.backend, options.threads);
  for (auto& [key, ids] : shapes) {
    const NetworkConfig& shape = members[ids[0]].network;
    const bool f32 = std::get<0>(key) == Precision::f32;
    const std::size_t E = f32 ? lane_elements<float>(shape, options.lane_groups)
                              : lane_elements<double>(shape, options.lane_groups);
    const auto lanes_for = [&](std::size_t count) {
      return f32 ? group_lanes<float>(shape, E, count, parallel.threads())
                 : group_lanes<double>(shape, E, count, parallel.threads());
    };
    const std::size_t vector = f32 ? lane_kernel<float>().lanes : lane_kernel<double>().lanes;
    const std::size_t lanes = lanes_for(ids.size()), G = lanes / E;
    for (std::size_t g = 0; g < ids.size(); g += G) {
      const std::size_t end = std::min(ids.size(), g + G);
      // a last, smaller group of a short chain: as few vectors as hold it
      const std::size_t last = lanes > vector ? (end - g + vector - 1) / vector * vector : lanes;
      tasks.push_back({std::vector<std::size_t>(ids.begin() + static_cast<std::ptrdiff_t>(g),
                                                ids.begin() + static_cast<std::ptrdiff_t>(end)),
                       true, end - g < G ? last : lanes, E});
    }
  }
  for (std::size_t i : singles) tasks.push_back({{i}, false, 1, 1});

  parallel.run(tasks.size(), [&](std::size_t t) {
    const Task& task = tasks[t];
    if (!task.lanes) {
      single_train(members[task.ids[0]], data, validation, results[task.ids[0]]);
    } else if (members[task.ids[0]].network.precision == Precision::f32) {
      lanes_train<float>(task.ids, task.width, task.elements, members, data, *data_f32, validation, results);
    } else {
      lanes_train<double>(task.ids, task.width, task.elements, members, data, *data_f64, validation, results);
    }
  });
  return results;
}

}  // namespace

bool sweep_lane_path(const SweepMember& member) {
  validate(member.network);
  const TrainConfig c = train_config_resolve(member.train);
  const NetworkConfig& n = member.network;
  return c.optimizer == Optimizer::sgd && c.momentum == 0 && c.l2 == 0 && c.clip == 0 &&
         c.batch == 1 && c.early_stop == 0 && c.schedule.kind != ScheduleKind::plateau &&
         n.loss == Loss::mse && n.output_act != Activation::softmax;
}

std::vector<SweepResult> train_many(const std::vector<SweepMember>& members, const Dataset& data,
                                    const SweepOptions& options) {
  return many_train(members, data, nullptr, options);
}

std::vector<SweepResult> train_many(const std::vector<SweepMember>& members, const Dataset& data,
                                    const Dataset& validation, const SweepOptions& options) {
  return many_train(members, data, &validation, options);
}

}  // namespace bpnn
