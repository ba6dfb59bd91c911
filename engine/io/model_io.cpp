// Network ⇄ safetensors file, through the public Network API only.
//
// Layer i is stored as "{i}.weight" [out, in] and "{i}.bias" [out] (F32 or F64 = the network's
// precision). __metadata__ (all strings): format = "bpnn", format_version = "1",
// sizes = "2,4,1", hidden_act, output_act, loss, crc32 = CRC-32 of the whole tensor buffer as 8
// lowercase hex digits, then the network's own metadata pairs.
#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "io/crc32.hpp"
#include "io/safetensors.hpp"

namespace bpnn {
namespace {

constexpr const char* format_name = "bpnn";
constexpr const char* format_version = "1";
constexpr const char* reserved_keys[] = {"format", "format_version", "sizes", "hidden_act",
                                         "output_act", "loss", "crc32"};

bool key_reserved(const std::string& key) {
  return std::find(std::begin(reserved_keys), std::end(reserved_keys), key) != std::end(reserved_keys);
}


std::string weight_name(std::size_t layer) { return std::to_string(layer) + ".weight"; }
std::string bias_name(std::size_t layer) { return std::to_string(layer) + ".bias"; }


std::string sizes_format(const std::vector<std::size_t>& sizes) {
  std::string out;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(sizes[i]);
  }
  return out;
}

[[noreturn]] void format_fail(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::format, path + ": " + what);
}

// "2,4,1" → {2, 4, 1}; every width a positive integer.
std::vector<std::size_t> sizes_parse(const std::string& path, const std::string& text) {
  std::vector<std::size_t> sizes;
  const char* p = text.data();
  const char* end = p + text.size();
  for (;;) {
    std::size_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || v == 0) format_fail(path, "metadata \"sizes\" = " + name_quote(text) +
                                                           " is not a list of positive widths like \"2,4,1\"");
    sizes.push_back(v);
    if (next == end) break;
    if (*next != ',') format_fail(path, "metadata \"sizes\" = " + name_quote(text) +
                                            " is not a list of positive widths like \"2,4,1\"");
    p = next + 1;
  }
  if (sizes.size() < 2) format_fail(path, "metadata \"sizes\" = " + name_quote(text) + " has fewer than two widths");
  return sizes;
}

const std::string& metadata_need(const std::string& path, const std::map<std::string, std::string>& m,
                                 const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) format_fail(path, "metadata lacks " + name_quote(key) + "; not a bpnn model file");
  return it->second;
}

// Parses an activation or loss name from the metadata, turning Error(argument) into Error(format).
template <class Parse>
auto name_parse(const std::string& path, const std::string& key, const std::string& value, Parse parse) {
  try {
    return parse(value);
  } catch (const Error& e) {
    format_fail(path, "metadata " + name_quote(key) + " = " + name_quote(value) + ": " + e.what());
  }
}

// Finds the weight and bias of each of the network's layers in `file`, checks their shapes, and
// sets them; `path` names the file in messages. Throws Error(format) for a missing tensor, a
// wrong shape, or a tensor that belongs to no layer.
void layers_set(Network& net, const SafetensorsFile& file, const std::string& path) {
  std::map<std::string, const SafetensorsTensor*> by_name;
  for (const auto& t : file.tensors) by_name.emplace(t.name, &t);
  const auto& sizes = net.config().sizes;
  const std::size_t layers = net.n_layers();
  auto find = [&](const std::string& name, const std::vector<std::size_t>& shape, std::size_t layer) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      format_fail(path, "no tensor " + name_quote(name) + " (the network has " + std::to_string(layers) +
                            " layers, sizes " + sizes_format(sizes) + ")");
    if (it->second->shape != shape)
      format_fail(path, "tensor " + name_quote(name) + " has shape " + shape_format(it->second->shape) +
                            ", layer " + std::to_string(layer) + " of the network needs " + shape_format(shape));
    const SafetensorsTensor* t = it->second;
    by_name.erase(it);
    return t;
  };
  std::vector<std::pair<const SafetensorsTensor*, const SafetensorsTensor*>> found;
  for (std::size_t i = 0; i < layers; ++i) {
    const SafetensorsTensor* w = find(weight_name(i), {sizes[i + 1], sizes[i]}, i);
    const SafetensorsTensor* b = find(bias_name(i), {sizes[i + 1]}, i);
    found.emplace_back(w, b);
  }
  if (!by_name.empty()) {
    std::string extra;
    for (const auto& [name, t] : by_name) {
      if (!extra.empty()) extra += ", ";
      extra += name_quote(name);
    }
    format_fail(path, "tensors that belong to no layer of the network (sizes " + sizes_format(sizes) +
                          "): " + extra);
  }
  for (std::size_t i = 0; i < layers; ++i) net.set_layer(i, found[i].first->values, found[i].second->values);
}

void crc_check(const std::string& path, const SafetensorsFile& file, const std::string& stored) {
  const std::string computed = crc32_hex(file.data_crc32);
  if (stored != computed)
    format_fail(path, "CRC mismatch: stored " + stored + ", computed " + computed + " — the file is corrupt");
}

}  // namespace

void save_model(const Network& net, const std::string& path) {
  const NetworkConfig& config = net.config();
  for (const auto& [key, value] : net.metadata())
    if (key_reserved(key))
      throw Error(ErrorKind::argument, "save_model: metadata key " + name_quote(key) +
                                           " is reserved by the bpnn model format");
  SafetensorsFile file;
  const std::string dtype = config.precision == Precision::f64 ? "F64" : "F32";
  for (std::size_t i = 0; i < net.n_layers(); ++i) {
    file.tensors.push_back({weight_name(i), dtype, {config.sizes[i + 1], config.sizes[i]}, net.weights(i)});
    file.tensors.push_back({bias_name(i), dtype, {config.sizes[i + 1]}, net.bias(i)});
  }
  file.metadata = net.metadata();
  file.metadata["format"] = format_name;
  file.metadata["format_version"] = format_version;
  file.metadata["sizes"] = sizes_format(config.sizes);
  file.metadata["hidden_act"] = std::string(to_string(config.hidden_act));
  file.metadata["output_act"] = std::string(to_string(config.output_act));
  file.metadata["loss"] = std::string(to_string(config.loss));
  file.metadata["crc32"] = crc32_hex(crc32(safetensors_data_encode(file.tensors)));
  safetensors_write(path, file);
}

Network load_model(const std::string& path) {
  const SafetensorsFile file = safetensors_read(path);
  const auto& m = file.metadata;
  auto format = m.find("format");
  if (format == m.end() || format->second != format_name)
    format_fail(path, "not a bpnn model file (metadata \"format\" is " +
                          (format == m.end() ? std::string("missing") : name_quote(format->second)) +
                          "); load_weights reads plain safetensors weights");
  const std::string& version = metadata_need(path, m, "format_version");
  if (version != format_version)
    format_fail(path, "format_version " + name_quote(version) + " is not supported (this bpnn reads " +
                          format_version + ")");
  crc_check(path, file, metadata_need(path, m, "crc32"));

  NetworkConfig config;
  config.sizes = sizes_parse(path, metadata_need(path, m, "sizes"));
  config.hidden_act = name_parse(path, "hidden_act", metadata_need(path, m, "hidden_act"), parse_activation);
  config.output_act = name_parse(path, "output_act", metadata_need(path, m, "output_act"), parse_activation);
  config.loss = name_parse(path, "loss", metadata_need(path, m, "loss"), parse_loss);
  config.init = Init::zero;
  // The precision is the tensors' dtype, the same for all of them.
  std::set<std::string> dtypes;
  for (const auto& t : file.tensors) dtypes.insert(t.dtype);
  if (dtypes.size() > 1 || (!dtypes.empty() && *dtypes.begin() != "F32" && *dtypes.begin() != "F64"))
    format_fail(path, "tensors must all be F32 or all be F64 in a bpnn model file");
  config.precision = (!dtypes.empty() && *dtypes.begin() == "F64") ? Precision::f64 : Precision::f32;

  std::optional<Network> net;
  try {
    net.emplace(config);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::argument) throw;
    format_fail(path, std::string("the stored configuration cannot make a network: ") + e.what());
  }
  layers_set(*net, file, path);
  for (const auto& [key, value] : m)
    if (!key_reserved(key)) net->metadata()[key] = value;
  return std::move(*net);
}

void load_weights(Network& net, const std::string& path) {
  const SafetensorsFile file = safetensors_read(path);
  // A bpnn file carries a CRC: check it when it is there.
  auto format = file.metadata.find("format");
  auto crc = file.metadata.find("crc32");
  if (format != file.metadata.end() && format->second == format_name && crc != file.metadata.end())
    crc_check(path, file, crc->second);
  layers_set(net, file, path);
}

}  // namespace bpnn
