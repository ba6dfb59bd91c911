#pragma once
// The packed weight layout read by the dense kernels.
//
// The outputs are cut into panels of NR = V·W outputs (the width of one register tile); the last
// panel is only as wide as needed, rounded up to whole vectors (Out = 10 on avx512 f32: one panel
// of 16). Inside a panel the layout is K-major: row i holds the panel's weights of input i, so the
// forward tile loads Vn contiguous vectors per input and broadcasts x. Panel p starts at
// p·NR·In; element (o, i) lives at p·NR·In + i·width_p + (o − p·NR). Padding lanes are zero, and
// stay zero under training because their gradient is zero.
//
// No 4K-aliasing padding is needed: a tile reads one panel front to back with a 256-byte stride,
// and the activations, the only operand read with a large stride, are the caller's.
#include <cstddef>

#include "kernels/simd/tile.hpp"

namespace bpnn::kernels::simd {

template <class Arch, class T>
struct PanelLayout {
  using S = TileShape<Arch, T>;
  std::size_t out, in;
  std::size_t panels() const { return ceil_div(out, S::NR); }
  std::size_t first(std::size_t p) const { return p * S::NR; }
  // outputs that exist in panel p
  std::size_t count(std::size_t p) const { return min_size(S::NR, out - p * S::NR); }
  // row length of panel p: count rounded up to whole vectors
  std::size_t width(std::size_t p) const { return ceil_div(count(p), S::W) * S::W; }
  std::size_t offset(std::size_t p) const { return p * S::NR * in; }
};

// size of packed (out, in) weights, in elements
template <class Arch, class T>
std::size_t dense_packed_size(std::size_t out, std::size_t in) {
  return ceil_div(out, TileShape<Arch, T>::W) * TileShape<Arch, T>::W * in;
}

// w:(Out,In) row-major -> packed; padding is zeroed
template <class Arch, class T>
void dense_pack(std::size_t out, std::size_t in, const T* w, T* packed) {
  const PanelLayout<Arch, T> L{out, in};
  for (std::size_t p = 0; p < L.panels(); ++p) {
    T* dst = packed + L.offset(p);
    const std::size_t cnt = L.count(p), wid = L.width(p), o0 = L.first(p);
    for (std::size_t i = 0; i < in; ++i) {
      for (std::size_t j = 0; j < cnt; ++j) dst[i * wid + j] = w[(o0 + j) * in + i];
      for (std::size_t j = cnt; j < wid; ++j) dst[i * wid + j] = T(0);
    }
  }
}

// packed -> w:(Out,In) row-major
template <class Arch, class T>
void dense_unpack(std::size_t out, std::size_t in, const T* packed, T* w) {
  const PanelLayout<Arch, T> L{out, in};
  for (std::size_t p = 0; p < L.panels(); ++p) {
    const T* src = packed + L.offset(p);
    const std::size_t cnt = L.count(p), wid = L.width(p), o0 = L.first(p);
    for (std::size_t j = 0; j < cnt; ++j)
      for (std::size_t i = 0; i < in; ++i) w[(o0 + j) * in + i] = src[i * wid + j];
  }
}

}  // namespace bpnn::kernels::simd
