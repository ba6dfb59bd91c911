#pragma once
// What a bpnn::Network holds: its config, metadata and the network in its precision.
#include <map>
#include <string>
#include <variant>

#include "bpnn/network.hpp"
#include "nn/mlp.hpp"

namespace bpnn {

struct Network::Impl {
  NetworkConfig config;
  std::map<std::string, std::string> metadata;
  std::variant<Mlp<float>, Mlp<double>> mlp;
};

}  // namespace bpnn
