// Fuzz target: the model loader (bpnn::load_model) over a whole file — the safetensors length,
// JSON header and metadata, the tensor buffer, the CRC and the network built from them.
// Input: the bytes of a model file, loaded as they are and with the checksum rewritten to match
// (checksum_fixup.hpp), so mutations reach the checks behind the CRC. Checks beyond the sanitizers: see fuzz_check.hpp; a model
// that loads must be consistent with its own tensors (finite weights of the declared widths) and
// predict without fault, and its input_names / output_names, when they are JSON arrays (as train
// writes them), name each input (distinct) and output once.
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/model_io.hpp"
#include "checksum_fixup.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace bpnn;
using fuzz::finding;

void names_check(const Network& net, const std::string& key, std::size_t width, bool distinct) {
  const auto it = net.metadata().find(key);
  if (it == net.metadata().end()) return;
  const std::string& text = it->second;
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '[') return;  // free text: not interpreted
  const nlohmann::json names = nlohmann::json::parse(text, nullptr, false);
  if (!names.is_array()) finding("loaded model: metadata " + key + " is not a JSON array", text);
  if (names.size() != width)
    finding("loaded model: metadata " + key + " lists " + std::to_string(names.size()) + " names for width " +
                std::to_string(width),
            text);
  std::set<std::string> seen;
  for (const auto& name : names) {
    if (!name.is_string()) finding("loaded model: metadata " + key + " holds a name that is not a string", text);
    if (!seen.insert(name.get<std::string>()).second && distinct)
      finding("loaded model: metadata " + key + " names an input twice", text);
  }
}

void network_check(const Network& net) {
  names_check(net, "input_names", net.n_inputs(), true);
  names_check(net, "output_names", net.n_outputs(), false);
  const auto& sizes = net.config().sizes;
  if (sizes.size() < 2 || net.n_layers() != sizes.size() - 1) finding("loaded network: layer count", "");
  std::size_t params = 0;
  for (std::size_t i = 0; i < net.n_layers(); ++i) {
    const std::vector<double> w = net.weights(i), b = net.bias(i);
    if (w.size() != sizes[i] * sizes[i + 1] || b.size() != sizes[i + 1]) finding("loaded network: layer shape", "");
    for (double v : w)
      if (!std::isfinite(v)) finding("loaded network holds a weight that is not finite", std::to_string(v));
    for (double v : b)
      if (!std::isfinite(v)) finding("loaded network holds a bias that is not finite", std::to_string(v));
    params += w.size() + b.size();
  }
  if (params != net.n_params()) finding("loaded network: n_params disagrees with its layers", "");
  const std::vector<double> x(net.n_inputs(), 0.5);
  std::vector<double> y(net.n_outputs());
  net.predict(x.data(), 1, y.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto load = [&](std::string_view bytes) {
    const std::string& path = file.hold(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    fuzz::expect_only_errors([&] { network_check(load_model(path)); }, {ErrorKind::format}, path, fuzz::Where::source);
  };
  load(input);
  for (auto version : {fuzz::ChecksumVersion::v1, fuzz::ChecksumVersion::v2})
    if (const auto fixed = fuzz::checksum_fixed(input, version); fixed && *fixed != input) load(*fixed);
  return 0;
}
