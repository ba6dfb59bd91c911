// Fuzz target: bpnn::load_weights, which reads any safetensors file (PyTorch's included: no
// metadata or CRC required) into an existing network, tried on networks of both precisions and
// two shapes. Input: the bytes of a safetensors file, as they are and, for a bpnn model, with its
// checksum rewritten to match (checksum_fixup.hpp); the seeds hold weights for these networks.
// Checks beyond the sanitizers: see fuzz_check.hpp; weights that load are the file's, finite.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bpnn/model_io.hpp"
#include "checksum_fixup.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace bpnn;
using fuzz::finding;

// The shapes the seed corpus (tools/run-fuzz.sh writes it with `bpnn`) holds weights for.
std::vector<Network> networks_make() {
  std::vector<Network> nets;
  for (Precision p : {Precision::f32, Precision::f64})
    for (const std::vector<std::size_t>& sizes : {std::vector<std::size_t>{2, 4, 1}, std::vector<std::size_t>{4, 8, 3}}) {
      NetworkConfig config;
      config.sizes = sizes;
      config.precision = p;
      config.init = Init::zero;
      nets.emplace_back(config);
    }
  return nets;
}

void weights_check(const Network& net) {
  for (std::size_t i = 0; i < net.n_layers(); ++i) {
    for (double v : net.weights(i))
      if (!std::isfinite(v)) finding("load_weights set a weight that is not finite", std::to_string(v));
    for (double v : net.bias(i))
      if (!std::isfinite(v)) finding("load_weights set a bias that is not finite", std::to_string(v));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  static std::vector<Network> nets = networks_make();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto load = [&](std::string_view bytes) {
    const std::string& path = file.hold(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    for (Network& net : nets)
      fuzz::expect_only_errors(
          [&] {
            load_weights(net, path);
            weights_check(net);
          },
          {ErrorKind::format}, path, fuzz::Where::source);
  };
  load(input);
  for (auto version : {fuzz::ChecksumVersion::v1, fuzz::ChecksumVersion::v2})
    if (const auto fixed = fuzz::checksum_fixed(input, version); fixed && *fixed != input) load(*fixed);
  return 0;
}
