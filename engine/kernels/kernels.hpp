#pragma once
// The kernel table: every hot-path operation of training and prediction, as plain functions over
// pointers and sizes. One table per instruction set and precision, chosen once at run time
// (kernels_select); the network keeps a pointer to its table. Kernels never allocate on the hot
// path, never start threads, and write only their own outputs, so callers may run them on
// disjoint row ranges from many threads.
//
// Weights live in a layout private to the table ("packed"): the table says how big a layer's
// packed weights are and converts from/to the public [out, in] row-major layout. Gradients of the
// weights use the same packed layout, so elementwise updates need not know it.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "bpnn/types.hpp"

namespace bpnn::kernels {

struct DenseShape {
  std::size_t n;    // rows (samples) in the batch
  std::size_t in;   // inputs per row
  std::size_t out;  // outputs per row
};

// A network small enough for the one-call per-sample step (KernelTable::sample_sgd_tiny): at
// most tiny_max_layers layers, every one at most tiny_max_width inputs and outputs (the seed
// network 2-4-1, XOR 2-2-1), MSE loss, no softmax. Offsets are into the parameter arena.
inline constexpr std::size_t tiny_max_layers = 3;
inline constexpr std::size_t tiny_max_width = 4;
struct TinyLayer {
  std::size_t in = 0, out = 0;
  Activation act = Activation::sigmoid;
  std::size_t weight_offset = 0, bias_offset = 0;  // packed (out, in) weights; (out) biases
};
struct TinyNet {
  std::size_t layers = 0;
  TinyLayer layer[tiny_max_layers];
};

// The constants of one Adam step (PyTorch's form; train/optimizer.cpp computes them in double):
// step_size = lr/(1 − β₁ᵗ), bc2_sqrt = √(1 − β₂ᵗ).
template <class T>
struct AdamStep {
  T step_size, bc2_sqrt, beta1, beta2, one_minus_beta1, one_minus_beta2, eps;
};

// One shape of network trained G at a time by KernelTable::sweep_sample_sgd. Each network owns
// E consecutive elements ("its lane") of every W-element vector, G = W / E:
//   - E = 1 (full groups, G = W): network m in element m; each parameter, activation and δ is a
//     vector of W networks' values ("lane-interleaved").
//   - E > 1 (narrow groups, KernelTable::sweep_narrow_elements: 4 f32 networks of 4 elements per AVX-512
//     vector, one per 128-bit lane): a layer's outputs are cut into blocks of E, and the vector
//     of block b holds outputs bE … bE + E − 1 of every network (the last block zero-padded);
//     the kernel keeps the gathered inputs in blocks of E too.
// Offsets count elements of T from the start of the group's parameters (weights, biases) or
// work buffer (inputs, activations, δ, the pending update).
//
// The pending update: a kernel may leave a step's weight update w_oi += a_i·d_o pending and make
// it inside the next step's forward pass, which reads every weight anyway (one pass over the
// weights per step instead of two). Work then holds the step's inputs of every layer (x and the
// hidden activations, in one of two sets that alternate from step to step, so that the next
// step's activations do not overwrite them), its d = −lr·δ of every layer (in δ's place), and at
// pending_offset the pending state: a (W) vector of the lanes it updates (1/0), then a (W) vector
// whose element 0 is the kind (sweep_pending_none, _all: every lane, _masked: the lanes of the
// first vector) and element 1 the set (0/1) of the inputs it reads. sweep_pending_apply makes a
// pending update; a zeroed work buffer has none.
inline constexpr int sweep_pending_none = 0, sweep_pending_all = 1, sweep_pending_masked = 2;
struct SweepLayer {
  std::size_t in = 0, out = 0;
  Activation act = Activation::sigmoid;  // not softmax
  std::size_t blocks = 0;                // ⌈out / E⌉ vectors per input
  std::size_t weight_offset = 0;  // (in, blocks) vectors: weight (o, i) in vector i·blocks + o/E
  std::size_t bias_offset = 0;    // (blocks) vectors
  // work: (blocks) vectors each; a hidden layer's activations in set 0 (set 1: + SweepNet::alternate)
  std::size_t act_offset = 0, delta_offset = 0;
};
struct SweepNet {
  std::size_t lanes = 0;  // W, elements per vector: the table's sweep_lanes (any ≥ 1 for the reference)
  std::size_t layers = 0;
  const SweepLayer* layer = nullptr;
  std::size_t input_offset = 0;  // work: (⌈In/E⌉) vectors, each network's inputs from its row, set 0
  std::size_t elements = 1;      // E, elements per network
  std::size_t alternate = 0;     // work: set 1 of the inputs and hidden activations, less set 0
  std::size_t pending_offset = 0;  // work: (2W) the pending update's lanes and state
  // work: the ŷ log, (yhat_log_steps, top blocks) vectors: step t of a call's ŷ at
  // yhat_log_offset + t·(top blocks)·W, so that a caller that counts correct classes reads every
  // step's ŷ after a call of many steps; 0 steps: none (a call of more steps must not have one)
  std::size_t yhat_log_offset = 0, yhat_log_steps = 0;
};

// Copies step t's ŷ (the top layer's activations) into the group's ŷ log, if it has one.
template <class T>
void sweep_yhat_log(const SweepNet& net, std::size_t t, T* work) {
  if (net.yhat_log_steps == 0) return;
  const SweepLayer& top = net.layer[net.layers - 1];
  const std::size_t size = top.blocks * net.lanes;
  const T* yhat = work + top.act_offset;
  T* log = work + net.yhat_log_offset + t * size;
  for (std::size_t v = 0; v < size; ++v) log[v] = yhat[v];
}

// The layout of one shape for groups of lanes / elements networks: layers (sizes, the hidden and
// the output activation), then the sizes of the parameter and the work buffers, and where
// network m's weight (o, i) and bias o of layer l are.
struct SweepLayout {
  std::vector<SweepLayer> layer;
  std::size_t lanes = 0, elements = 1, params_size = 0, work_size = 0;
  std::size_t alternate = 0, pending_offset = 0, yhat_log_offset = 0, yhat_log_steps = 0;
  SweepNet net() const {
    return {lanes, layer.size(), layer.data(), 0, elements, alternate, pending_offset, yhat_log_offset,
            yhat_log_steps};
  }
  std::size_t members() const { return lanes / elements; }
  std::size_t element(std::size_t o, std::size_t m) const {
    return (o / elements) * lanes + m * elements + o % elements;
  }
  std::size_t weight_index(std::size_t l, std::size_t o, std::size_t i, std::size_t m) const {
    return layer[l].weight_offset + i * layer[l].blocks * lanes + element(o, m);
  }
  std::size_t bias_index(std::size_t l, std::size_t o, std::size_t m) const {
    return layer[l].bias_offset + element(o, m);
  }
  // activation j of the top layer (ŷ_j) of network m, in the work buffer
  std::size_t output_index(std::size_t j, std::size_t m) const {
    return layer.back().act_offset + element(j, m);
  }
  // ŷ_j of network m at step t of a call, in the ŷ log (SweepNet::yhat_log_steps)
  std::size_t logged_output_index(std::size_t t, std::size_t j, std::size_t m) const {
    return yhat_log_offset + t * layer.back().blocks * lanes + element(j, m);
  }
};
// work: [set 0: inputs, hidden activations] [set 1: the same] [top activations] [δ of every
// layer] [pending state] [ŷ log of yhat_log_steps steps]
inline SweepLayout sweep_layout(const std::vector<std::size_t>& sizes, Activation hidden,
                                Activation output, std::size_t lanes, std::size_t elements = 1,
                                std::size_t yhat_log_steps = 0) {
  SweepLayout g;
  g.lanes = lanes;
  g.elements = elements;
  g.layer.resize(sizes.size() - 1);
  const auto vectors = [&](std::size_t values) { return (values + elements - 1) / elements * lanes; };
  g.work_size = vectors(sizes.front());  // the inputs, at offset 0
  for (std::size_t l = 0; l < g.layer.size(); ++l) {
    SweepLayer& s = g.layer[l];
    s.in = sizes[l];
    s.out = sizes[l + 1];
    s.act = l + 1 == g.layer.size() ? output : hidden;
    s.blocks = (s.out + elements - 1) / elements;
    s.weight_offset = g.params_size;
    g.params_size += s.in * s.blocks * lanes;
    s.bias_offset = g.params_size;
    g.params_size += s.blocks * lanes;
    if (l + 1 < g.layer.size()) {
      s.act_offset = g.work_size;
      g.work_size += s.blocks * lanes;
    }
  }
  g.alternate = g.work_size;
  g.work_size *= 2;
  g.layer.back().act_offset = g.work_size;
  g.work_size += g.layer.back().blocks * lanes;
  for (SweepLayer& s : g.layer) {
    s.delta_offset = g.work_size;
    g.work_size += s.blocks * lanes;
  }
  g.pending_offset = g.work_size;
  g.work_size += 2 * lanes;
  g.yhat_log_offset = g.work_size;
  g.yhat_log_steps = yhat_log_steps;
  g.work_size += yhat_log_steps * g.layer.back().blocks * lanes;
  return g;
}

// Makes the pending update of a group's work buffer, if any: w_oi = fma(a_i, d_o, w_oi) for every
// element of the updated lanes (padding outputs included, as the kernel's vectors do), then
// none is pending. fma is exact before its one rounding, so these are the bits of the kernel's
// vector FMA.   params, work: the group's buffers (SweepLayout)
template <class T>
void sweep_pending_apply(const SweepNet& net, T* params, T* work) {
  T* state = work + net.pending_offset + net.lanes;
  const int kind = static_cast<int>(state[0]);
  if (kind == sweep_pending_none) return;
  const std::size_t W = net.lanes, E = net.elements, set = static_cast<std::size_t>(state[1]);
  const T* on = work + net.pending_offset;
  for (std::size_t l = 0; l < net.layers; ++l) {
    const SweepLayer& s = net.layer[l];
    const T* a = work + set * net.alternate + (l == 0 ? net.input_offset : net.layer[l - 1].act_offset);
    const T* d = work + s.delta_offset;
    T* w = params + s.weight_offset;
    for (std::size_t i = 0; i < s.in; ++i)
      for (std::size_t v = 0; v < s.blocks; ++v)
        for (std::size_t e = 0; e < W; ++e) {
          if (kind == sweep_pending_masked && on[e] == T(0)) continue;
          T& wv = w[(i * s.blocks + v) * W + e];
          wv = std::fma(a[(i / E) * W + e - e % E + i % E], d[v * W + e], wv);
        }
  }
  state[0] = T(sweep_pending_none);
}

template <class T>
struct KernelTable {
  const char* arch;  // "avx512", "avx2", "sse2" or "reference"

  // Packed layout of a layer's (out, in) weights.
  std::size_t (*packed_size)(std::size_t out, std::size_t in);
  // w:(Out,In) row-major -> packed; padding is zeroed
  void (*pack)(std::size_t out, std::size_t in, const T* rowmajor, T* packed);
  // packed -> w:(Out,In) row-major
  void (*unpack)(std::size_t out, std::size_t in, const T* packed, T* rowmajor);

  // x:(N,In) w:packed(Out,In) b:(Out) -> y:(N,Out); y = act(x·wᵀ + b), act is not softmax
  void (*dense_forward)(const DenseShape& s, Activation act, const T* x, const T* w, const T* b,
                        T* y);
  // dy:(N,Out) w:packed(Out,In) x:(N,In) -> dx:(N,In); dx = (dy·w) ⊙ act'(x), where x = act(·) is
  // the output of the previous layer and act' is taken from it (sigmoid: x(1−x), tanh: 1−x²,
  // relu: x > 0, linear: 1)
  void (*dense_backward_data)(const DenseShape& s, Activation act, const T* dy, const T* w,
                              const T* x, T* dx);
  // The two above for part of a layer, so that one layer's work may be split across threads:
  // x:(N,In) w:packed(Out,In) b:(Out) -> outputs [o0, o1) of y:(N,Out), and
  // dy:(N,Out) w:packed(Out,In) x:(N,In) -> inputs [i0, i1) of dx:(N,In).
  // o0, i0 are multiples of out_block and o1, i1 are too or end the layer; each element gets the
  // same bits as the whole-layer kernel gives it. (out_block 0: whole layers only.)
  // Also on any range of the batch's rows (x, y, dy, dx offset to its first row, n its rows):
  // the forward forms on any rows (a single row's matrix-vector form adds in the GEMM form's
  // order), the backward-data forms on ranges of at least 4 rows (on fewer they take the
  // matrix-vector form, whose reduction tree sums in another order). So a layer may be cut into
  // tiles of rows × outputs (inputs) that follow the thread count (train/batch_plan.hpp).
  // tests/test_dense_kernels.cpp checks both, for every table.
  void (*dense_forward_outputs)(const DenseShape& s, Activation act, std::size_t o0,
                                std::size_t o1, const T* x, const T* w, const T* b, T* y);
  void (*dense_backward_data_inputs)(const DenseShape& s, Activation act, std::size_t i0,
                                     std::size_t i1, const T* dy, const T* w, const T* x, T* dx);
  // dy:(N,Out) x:(N,In) -> dw:packed(Out,In) += dyᵀ·x ; db:(Out) += Σ_rows dy
  // Each element of dw and db is one chain over the rows in order, onto what is there: so the
  // columns of a panel of outputs (out_block, packed_size(o0, In) in) × a range of whole 16-input
  // blocks [i0, i0 + k) (a packed (m, k) layer packed_size(m, i0) into the panel), with those
  // columns of dy and x copied into contiguous blocks, get the whole layer's bits.
  void (*dense_backward_weights)(const DenseShape& s, const T* dy, const T* x, T* dw, T* db);
  // y:(count) delta:(count) -> delta ⊙= act'(y), the derivative from the activation's outputs
  void (*activation_backward)(Activation act, std::size_t count, const T* y, T* delta);
  // g,v,w:(count); v = μ·v + scale·g ; w −= lr·v   (μ = 0: w −= lr·scale·g, v untouched)
  // Training no longer calls it (engine/train/optimizer.cpp owns every update); the dense
  // benchmark, tests/test_vector_math.cpp and tests/test_parallel.cpp still do.
  void (*sgd_update)(std::size_t count, T lr, T momentum, T grad_scale, const T* g, T* v, T* w);
  // grad,w,m,v:(count); g = grad_scale·grad + decay·w ; m = β₁m + (1−β₁)g ; v = β₂v + (1−β₂)g² ;
  // w −= step_size · m / (√v / bc2_sqrt + eps)        (one Adam step; decay 0 for AdamW)
  void (*adam_update)(std::size_t count, const T* grad, T grad_scale, T decay, const AdamStep<T>& step,
                      T* w, T* m, T* v);
  // x,y:(count); y = act(x) elementwise (act is not softmax); x == y allowed
  void (*activation_forward)(Activation act, std::size_t count, const T* x, T* y);

  // Output ranges of a layer may be handed to different threads in steps of out_block outputs:
  // for o0 a multiple of out_block, outputs [o0, o1) of a packed (out, in) layer are themselves a
  // packed (o1 − o0, in) layer starting packed_size(o0, in) elements in. 0: the layout cannot be
  // split, the whole layer is one range.
  std::size_t out_block;

  // One per-sample SGD step (no momentum) of a tiny network, all of it in registers:
  // x:(In) y:(K) params: the arena → yhat:(K) = ŷ before the step; returns E = ½Σ(ŷ − y)², and,
  // when E is finite, params −= lr·∂E/∂params. The same operations in the same order as
  // dense_forward, the MSE loss (nn/output_layer.hpp), dense_backward_data and
  // dense_backward_weights of this table with n = 1, so results are bit for bit those of the
  // layer-by-layer step; it only skips the round trips through memory between them (README "The
  // per-sample chain"). Null in tables without it: the reference, and SSE2 f64, whose 2-lane
  // vectors cannot hold a tiny layer.
  double (*sample_sgd_tiny)(const TinyNet& net, const T* x, const T* y, T lr, T* params,
                            T* yhat);

  // Per-sample SGD steps (no momentum, MSE loss) of the G = W / E networks of one group
  // (SweepNet), each on its own samples: rows holds samples of In inputs followed by K targets;
  // row_offset is (steps, W), lr and keep are (W): each holds network m's value in each of its
  // E elements: the row of step s at rows + row_offset[sW + mE], its learning rate, and whether
  // it trains. The kernel gathers each network's inputs and targets itself. One step:
  // → loss:(W) = E of each network before the step (in each of its elements), ŷ in the top
  // layer's activations (and step t's ŷ in the ŷ log, when net has one: steps ≤ yhat_log_steps). Each network gets the operations of this table's single-network
  // per-sample step (dense_forward, the MSE loss, dense_backward_data, the in-place update with
  // n = 1) in the same order, so every network ends bit for bit where it would alone. keep
  // null: updates every network when every E is finite, else changes nothing. keep non-null:
  // updates only networks whose keep ≠ 0 and whose E is finite. After each step made,
  // loss_sum:(W) += (double)E for the networks it updated (bpnn::train's epoch loss: one sum per
  // network, in step order, in double).
  // Returns the number of steps made, less than `steps` at the first step whose E is not finite
  // for a network that trains: keep null, that step is not made and loss holds its E; keep
  // non-null, the steps up to and including that one are counted and loss holds its E (the
  // caller masks the network and goes on from there). Returns `steps` otherwise.
  // net.elements > 1 only where table.sweep_narrow_elements says so. work starts zeroed; the
  // kernel may leave the last step's weight update pending in it (SweepNet; avx512 and avx2 do,
  // whose vector FMA rounds once as sweep_pending_apply's std::fma does; sse2 does not):
  // it makes a pending update first (also when it makes no step), sweep_pending_apply makes the
  // last one, and keep applies to the pending update of its own step.
  // Null in the reference table: engine/kernels/reference/sweep_reference.hpp is that one.
  std::size_t (*sweep_sample_sgd)(const SweepNet& net, std::size_t steps, const T* rows,
                                  const std::int64_t* row_offset, const T* lr, const T* keep,
                                  T* params, T* work, T* loss, double* loss_sum) = nullptr;
  std::size_t sweep_lanes = 0;  // the vector width sweep_sample_sgd works on (0 when null)
  // E of the narrow groups sweep_sample_sgd takes (SweepNet::elements), or 1 when it takes full
  // groups only: 4 for AVX-512 f32 (a network per 128-bit lane), whose 16-network groups of a
  // wide shape outgrow the L1 cache (simd::sweep_narrow_elements_of of the table's arch)
  std::size_t sweep_narrow_elements = 1;
  // Full groups of a short-chain shape (every layer at most sweep_short_chain_width inputs and
  // outputs, the seed network) may be P·sweep_lanes networks for P = 2 … sweep_short_chain_lanes /
  // sweep_lanes (SweepNet::lanes, the W of sweep_sample_sgd), each value P vectors: P independent
  // chains advance together (simd::sweep_sample_sgd_short). 0 when the table has no such groups.
  std::size_t sweep_short_chain_lanes = 0;
  std::size_t sweep_short_chain_width = 0;
};

// The table for this CPU: the widest instruction set it supports, or the one named by the
// environment variable BPNN_ARCH ("avx512", "avx2", "sse2", "reference") when that one is
// supported. Throws Error(argument) for an unknown or unsupported BPNN_ARCH.
template <class T>
const KernelTable<T>& kernels_select();

// The plain scalar reference kernels, the yardstick every fast kernel is tested against.
template <class T>
const KernelTable<T>& kernels_reference();

}  // namespace bpnn::kernels
