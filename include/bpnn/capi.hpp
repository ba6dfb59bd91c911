#pragma once
// RAII for C++ programs that use the C API (bpnn.h), for instance to stay on libbpnn.so's stable
// C ABI: capi::Net owns a bpnn_net* and frees it; capi::check turns a failing status into a
// capi::Error carrying the status and bpnn_last_error(). Header-only, over bpnn.h alone.
#include <stdexcept>
#include <string>
#include <utility>

#include "bpnn.h"

namespace bpnn::capi {

class Error : public std::runtime_error {
 public:
  Error(bpnn_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  bpnn_status status() const noexcept { return status_; }

 private:
  bpnn_status status_;
};

// Throws Error unless status is BPNN_OK.
inline void check(bpnn_status status) {
  if (status != BPNN_OK) throw Error(status, bpnn_last_error());
}

class Net {
 public:
  Net() noexcept = default;
  explicit Net(bpnn_net* owned) noexcept : net_(owned) {}
  Net(Net&& other) noexcept : net_(std::exchange(other.net_, nullptr)) {}
  Net& operator=(Net&& other) noexcept {
    if (this != &other) bpnn_net_free(std::exchange(net_, std::exchange(other.net_, nullptr)));
    return *this;
  }
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;
  ~Net() { bpnn_net_free(net_); }

  static Net create(const bpnn_net_config& config) {
    bpnn_net* net = nullptr;
    check(bpnn_net_create(&config, &net));
    return Net(net);
  }
  static Net load(const std::string& path) {
    bpnn_net* net = nullptr;
    check(bpnn_net_load(path.c_str(), &net));
    return Net(net);
  }
  Net clone() const {
    bpnn_net* net = nullptr;
    check(bpnn_net_clone(net_, &net));
    return Net(net);
  }

  bpnn_net* get() const noexcept { return net_; }
  bpnn_net* release() noexcept { return std::exchange(net_, nullptr); }
  explicit operator bool() const noexcept { return net_ != nullptr; }

 private:
  bpnn_net* net_ = nullptr;
};

}  // namespace bpnn::capi
