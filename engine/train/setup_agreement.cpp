#include "train/setup_agreement.hpp"

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "io/crc32.hpp"
#include "nn/network_impl.hpp"
#include "train/checkpoint.hpp"

namespace bpnn {
namespace {

// One rank's setup as the ranks compare it: the kernels' name, then a CRC-32 per part.
constexpr std::size_t arch_bytes = 16;

std::uint32_t crc_of(const std::string& text) {
  return crc32({reinterpret_cast<const unsigned char*>(text.data()), text.size()});
}

template <class Values>
std::uint32_t crc_of_values(const Values& values) {
  return crc32({reinterpret_cast<const unsigned char*>(values.data()), values.size() * sizeof(values[0])});
}

// The parts of this rank's setup, each named as the error message names it.
std::vector<std::pair<std::string, std::uint32_t>> setup_parts(const Network& net, const TrainConfig& config) {
  const Network::Impl& impl = NetworkAccess::impl(net);
  const NetworkConfig& c = impl.config;
  std::string sizes;
  for (std::size_t width : c.sizes) sizes += std::to_string(width) + ",";
  std::vector<std::pair<std::string, std::uint32_t>> parts = {
      {"layer sizes", crc_of(sizes)},
      {"activations", crc_of(std::string(to_string(c.hidden_act)) + "/" + std::string(to_string(c.output_act)))},
      {"loss", crc_of(std::string(to_string(c.loss)))},
      {"precision", crc_of(std::string(to_string(c.precision)))},
      {"input scaler", crc_of(std::string(to_string(impl.scaler.kind))) ^ crc_of_values(impl.scaler.offset) ^
                           (crc_of_values(impl.scaler.factor) * 31u)},
      {"initial weights (--seed, --init, --init-from)",
       std::visit([](const auto& mlp) { return crc_of_values(mlp.arena()); }, impl.mlp)}};
  const TrainConfig resolved = train_config_resolve(config);
  for (const auto& [name, value] : train_config_fields(resolved)) parts.emplace_back(name, crc_of(value));
  parts.emplace_back("epochs", crc_of(std::to_string(resolved.epochs)));
  // checkpoint_save is collective: a rank without --checkpoint would skip its agreement
  parts.emplace_back("checkpoint (given or not, every)",
                     crc_of(std::string(config.checkpoint.empty() ? "0/" : "1/") + std::to_string(config.checkpoint_every)));
  return parts;
}

}  // namespace

void ranks_same_setup_check(GradientExchange& exchange, const Network& net, const TrainConfig& config) {
  static_assert(sizeof(std::uint32_t) == 4);
  const auto parts = setup_parts(net, config);
  const std::size_t record = arch_bytes + parts.size() * sizeof(std::uint32_t);
  std::vector<unsigned char> mine(record, 0);
  const std::string arch = net.kernel_arch();
  std::memcpy(mine.data(), arch.data(), std::min(arch.size(), arch_bytes - 1));
  for (std::size_t i = 0; i < parts.size(); ++i)
    std::memcpy(mine.data() + arch_bytes + i * sizeof(std::uint32_t), &parts[i].second, sizeof(std::uint32_t));
  const std::size_t ranks = static_cast<std::size_t>(exchange.ranks());
  std::vector<unsigned char> all(record * ranks);
  exchange.all_gather(mine.data(), record, all.data());
  const unsigned char* first = all.data();
  for (std::size_t r = 1; r < ranks; ++r) {
    const unsigned char* theirs = all.data() + r * record;
    const std::string rank = "data-parallel training: rank " + std::to_string(r);
    // the same bits need the same kernels (a node without AVX-512 would sum in another order)
    if (std::memcmp(theirs, first, arch_bytes) != 0)
      throw AgreedError(ErrorKind::argument, rank + " runs the " + std::string(reinterpret_cast<const char*>(theirs)) +
                                           " kernels and rank 0 the " + std::string(reinterpret_cast<const char*>(first)) +
                                           " ones; give every rank the same BPNN_ARCH");
    for (std::size_t i = 0; i < parts.size(); ++i)
      if (std::memcmp(theirs + arch_bytes + i * 4, first + arch_bytes + i * 4, 4) != 0)
        throw AgreedError(ErrorKind::argument, rank + " and rank 0 differ in their " + parts[i].first +
                                             "; start every rank with the same command line and files");
  }
}

}  // namespace bpnn
