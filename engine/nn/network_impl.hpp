#pragma once
// What a bpnn::Network holds: its config, metadata, the network in its precision, and the busy
// flag that mutating calls take. NetworkAccess is the engine's (and the tests') way in.
#include <atomic>
#include <map>
#include <string>
#include <variant>

#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/scaler.hpp"
#include "nn/mlp.hpp"

namespace bpnn {

// Set while a mutating call (a Trainer's life, set_layer, load_weights) owns the network. A copy
// of a network starts free.
class BusyFlag {
 public:
  BusyFlag() = default;
  BusyFlag(const BusyFlag&) noexcept {}
  BusyFlag& operator=(const BusyFlag&) noexcept { return *this; }
  // Takes the flag or throws Error(busy) naming `what` wanted it.
  void acquire(const char* what) {
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acquire))
      throw Error(ErrorKind::busy, std::string(what) +
                                       ": the network is busy (another thread is training it or "
                                       "changing its parameters)");
  }
  void release() noexcept { busy_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> busy_{false};
};

// Holds a network's busy flag for a scope.
class BusyLock {
 public:
  BusyLock(BusyFlag& flag, const char* what) : flag_(&flag) { flag_->acquire(what); }
  BusyLock(const BusyLock&) = delete;
  BusyLock& operator=(const BusyLock&) = delete;
  ~BusyLock() { flag_->release(); }

 private:
  BusyFlag* flag_;
};

struct Network::Impl {
  NetworkConfig config;
  std::map<std::string, std::string> metadata;
  std::variant<Mlp<float>, Mlp<double>> mlp;
  BusyFlag busy;
  InputScaler scaler;  // applied by predict to raw inputs; none unless set
};

struct NetworkAccess {
  static Network::Impl& impl(Network& net) { return *net.impl_; }
  static const Network::Impl& impl(const Network& net) { return *net.impl_; }
};

}  // namespace bpnn
