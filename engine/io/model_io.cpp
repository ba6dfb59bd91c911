// Network ⇄ model file (io/model_file.hpp describes the format), through the public Network API.
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>

#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "data/file_read.hpp"
#include "io/crc32.hpp"
#include "io/model_file.hpp"
#include "io/model_metadata.hpp"
#include "io/output_file.hpp"
#include "io/safetensors.hpp"

namespace bpnn {
namespace {

constexpr const char* format_name = "bpnn";
constexpr const char* format_version = "2";
constexpr std::string_view crc_key = "\"crc32\":\"";
constexpr std::size_t crc_digits = 8;

std::string weight_name(std::size_t layer) { return std::to_string(layer) + ".weight"; }
std::string bias_name(std::size_t layer) { return std::to_string(layer) + ".bias"; }

[[noreturn]] void format_fail(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::format, path + ": " + what);
}

std::span<const unsigned char> bytes_of(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// Where the header ends: the file's first 8 bytes hold its length (safetensors_decode has checked
// it against the file before this is called).
std::size_t header_end_of(std::span<const unsigned char> bytes) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < 8; ++i) n |= std::uint64_t{bytes[i]} << (8 * i);
  return 8 + static_cast<std::size_t>(n);
}

// The offset in `bytes` of the crc32 value's eight hex digits (version 2): the one occurrence of
// `"crc32":"` in the header, followed by eight lowercase hex digits and a quote.
std::size_t crc_position(std::span<const unsigned char> bytes, const std::string& path) {
  const auto begin = bytes.begin() + 8, end = bytes.begin() + static_cast<std::ptrdiff_t>(header_end_of(bytes));
  std::optional<std::size_t> found;
  for (auto it = std::search(begin, end, crc_key.begin(), crc_key.end()); it != end;
       it = std::search(it + 1, end, crc_key.begin(), crc_key.end())) {
    if (found) format_fail(path, "the header holds \"crc32\" more than once; the file is corrupt");
    found = static_cast<std::size_t>(it - bytes.begin()) + crc_key.size();
  }
  if (!found) format_fail(path, "the header lacks \"crc32\":\"XXXXXXXX\" (a version 2 model's checksum); the file is corrupt");
  const std::size_t at = *found;
  const auto hex = [](unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (at + crc_digits >= header_end_of(bytes) ||
      !std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                   bytes.begin() + static_cast<std::ptrdiff_t>(at + crc_digits), hex) ||
      bytes[at + crc_digits] != '"')
    format_fail(path, "metadata \"crc32\" is not eight lowercase hex digits; the file is corrupt");
  return at;
}

// CRC-32 of the whole file with the checksum's eight digits read as '0's (version 2).
std::uint32_t crc_whole_file(std::span<const unsigned char> bytes, std::size_t at) {
  static constexpr unsigned char placeholder[crc_digits] = {'0', '0', '0', '0', '0', '0', '0', '0'};
  std::uint32_t crc = crc32_update(0, bytes.first(at));
  crc = crc32_update(crc, placeholder);
  return crc32_update(crc, bytes.subspan(at + crc_digits));
}

void crc_compare(const std::string& path, const std::string& stored, std::uint32_t computed) {
  if (stored != crc32_hex(computed))
    format_fail(path, "CRC mismatch: stored " + text_excerpt(stored) + ", computed " + crc32_hex(computed) + " — the file is corrupt");
}

// Checks a bpnn file's checksum per its format_version. load_model needs the version and the
// checksum; load_weights (`strict` false) takes a file without a version as version 1 and checks
// a version 1 checksum only when there is one.
void checksum_check(std::span<const unsigned char> bytes, const SafetensorsFile& file, const std::string& path,
                    bool strict) {
  const auto& m = file.metadata;
  const auto version_it = m.find("format_version");
  const auto stored = m.find("crc32");
  if (version_it == m.end() && strict) format_fail(path, "metadata lacks \"format_version\"; not a bpnn model file");
  const std::string version = version_it == m.end() ? "1" : version_it->second;
  if (version != "1" && version != "2")
    format_fail(path, "format_version " + name_quote(version) +
                          " is not supported (this bpnn reads 1 and 2); a newer bpnn wrote it");
  if (stored == m.end()) {
    if (!strict && version == "1") return;
    format_fail(path, "metadata lacks \"crc32\"; the checksum of a bpnn model file");
  }
  if (version == "1") {  // the buffer alone
    crc_compare(path, stored->second, file.data_crc32);
    return;
  }
  const std::size_t at = crc_position(bytes, path);
  crc_compare(path, stored->second, crc_whole_file(bytes, at));
}

const std::string& metadata_need(const std::string& path, const Metadata& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) format_fail(path, "metadata lacks " + name_quote(key) + "; not a bpnn model file");
  return it->second;
}

// Parses an activation or loss name from the metadata, turning Error(argument) into Error(format).
// The parser's message repeats the value: only a short one is passed to it, and its message is
// escaped like any quoted value.
template <class Parse>
auto name_parse(const std::string& path, const std::string& key, const std::string& value, Parse parse) {
  const std::string where = "metadata " + name_quote(key) + " = " + name_quote(value);
  if (value.size() > excerpt_bytes) format_fail(path, where + ": not a known name");
  try {
    return parse(value);
  } catch (const Error& e) {
    format_fail(path, where + ": " + text_excerpt(e.what(), 4 * excerpt_bytes));
  }
}

struct LayerTensors {
  const SafetensorsTensor* weight;
  const SafetensorsTensor* bias;
};

// Finds the weight and bias of each layer of a network of widths `sizes` in `file` and checks
// their shapes and values — before any network exists, so a file's claims cost no memory beyond
// the file. Error(format) for a missing tensor, a wrong shape, a tensor that belongs to no layer,
// or a NaN or infinite value.
std::vector<LayerTensors> layers_find(const SafetensorsFile& file, const std::vector<std::size_t>& sizes,
                                      const std::string& path) {
  std::map<std::string, const SafetensorsTensor*> by_name;
  for (const auto& t : file.tensors) by_name.emplace(t.name, &t);
  const std::size_t layers = sizes.size() - 1;
  auto find = [&](const std::string& name, const std::vector<std::size_t>& shape, std::size_t layer) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      format_fail(path, "no tensor " + name_quote(name) + " (the network has " + std::to_string(layers) +
                            " layers, sizes " + text_excerpt(metadata_counts_format(sizes)) + ")");
    const SafetensorsTensor* t = it->second;
    if (t->shape != shape)
      format_fail(path, "tensor " + name_quote(name) + " has shape " + shape_format(t->shape) + ", layer " +
                            std::to_string(layer) + " of the network needs " + shape_format(shape));
    const auto bad = std::find_if(t->values.begin(), t->values.end(), [](double v) { return !std::isfinite(v); });
    if (bad != t->values.end())
      format_fail(path, "tensor " + name_quote(name) + " value " + std::to_string(bad - t->values.begin()) + " is " +
                            (std::isnan(*bad) ? "NaN" : "infinite") + "; a model holds finite weights");
    by_name.erase(it);
    return t;
  };
  // The first missing tensor ends the loop, so a long "sizes" costs no more than the file holds.
  std::vector<LayerTensors> found;
  for (std::size_t i = 0; i < layers; ++i) {
    const SafetensorsTensor* w = find(weight_name(i), {sizes[i + 1], sizes[i]}, i);
    const SafetensorsTensor* b = find(bias_name(i), {sizes[i + 1]}, i);
    found.push_back({w, b});
  }
  if (!by_name.empty()) {
    std::string extra;
    std::size_t listed = 0;
    for (const auto& [name, t] : by_name) {
      if (listed == 8) { extra += ", …"; break; }
      if (listed++) extra += ", ";
      extra += name_quote(name);
    }
    format_fail(path, "tensors that belong to no layer of the network (sizes " + text_excerpt(metadata_counts_format(sizes)) +
                          "): " + extra);
  }
  return found;
}

// Sets the layers found by layers_find; a value the network's precision cannot hold (an F64
// file's 1e300 in an f32 network) is Error(format) naming the file. Error(busy) passes through.
void layers_set(Network& net, const std::vector<LayerTensors>& layers, const std::string& path) {
  for (std::size_t i = 0; i < layers.size(); ++i) {
    try {
      net.set_layer(i, layers[i].weight->values, layers[i].bias->values);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::argument) throw;
      format_fail(path, e.what());
    }
  }
}

// input_names / output_names, when they are JSON arrays (as bpnn train writes them): one name per
// input or output, and input names distinct (a column fed twice is a corrupt model, not a model).
// Error(format) naming `path`; save_model turns it into Error(argument).
void names_check(const std::string& path, const Metadata& m, const std::string& key, std::size_t width,
                 const char* unit, bool distinct) {
  const auto it = m.find(key);
  if (it == m.end()) return;
  const auto first = it->second.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || it->second[first] != '[') return;  // free text: not interpreted
  const std::vector<std::string> names = metadata_names_parse(it->second, path, key);
  if (names.size() != width)
    format_fail(path, "metadata " + name_quote(key) + " lists " + std::to_string(names.size()) +
                          (names.size() == 1 ? " name" : " names") + ", but the network has " +
                          std::to_string(width) + " " + unit + (width == 1 ? "" : "s"));
  if (distinct) {
    std::set<std::string> seen;
    for (const auto& name : names)
      if (!seen.insert(name).second)
        format_fail(path, "metadata " + name_quote(key) + " names " + name_quote(name) + " twice; each " + unit +
                              " needs its own column");
  }
}

// The input scaler (scaler.kind, scaler.offset, scaler.factor), when the file has one. Anything
// that does not make a valid scaler for the network's inputs is Error(format) naming `path`.
void scaler_load(Network& net, const Metadata& m, const std::string& path) {
  const auto kind = m.find("scaler.kind");
  if (kind == m.end()) {
    for (const auto& [key, value] : m)
      if (key.starts_with("scaler."))
        format_fail(path, "metadata " + name_quote(key) + " without \"scaler.kind\"");
    return;
  }
  InputScaler scaler;
  try {
    scaler.kind = parse_scaling(kind->second);
  } catch (const Error&) {
    format_fail(path, "metadata \"scaler.kind\" = " + name_quote(kind->second) +
                          " is not standard or minmax");
  }
  if (scaler.kind == Scaling::none)
    format_fail(path, "metadata \"scaler.kind\" = \"none\" is written as no scaler at all");
  const auto offset = metadata_numbers_get(m, "scaler.offset", path);
  const auto factor = metadata_numbers_get(m, "scaler.factor", path);
  if (!offset || !factor) format_fail(path, "metadata \"scaler.kind\" without scaler.offset and scaler.factor");
  scaler.offset = *offset;
  scaler.factor = *factor;
  try {
    net.set_scaler(std::move(scaler));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::argument) throw;
    format_fail(path, e.what());
  }
}

}  // namespace

SafetensorsFile model_file_make(const Network& net) {
  const NetworkConfig& config = net.config();
  for (const auto& [key, value] : net.metadata()) {
    if (model_format_key(key))
      throw Error(ErrorKind::argument, "save_model: metadata key " + name_quote(key) +
                                           " is reserved by the bpnn model format");
    if (key.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
      throw Error(ErrorKind::argument, "save_model: metadata key " + name_quote(key) +
                                           ": a NUL character cannot be stored in a model file");
  }
  // A model that load_model would refuse is not written.
  try {
    names_check("save_model", net.metadata(), "input_names", config.sizes.front(), "input", true);
    names_check("save_model", net.metadata(), "output_names", config.sizes.back(), "output", false);
  } catch (const Error& e) {
    throw Error(ErrorKind::argument, e.what());
  }
  SafetensorsFile file;
  const std::string dtype = config.precision == Precision::f64 ? "F64" : "F32";
  for (std::size_t i = 0; i < net.n_layers(); ++i) {
    file.tensors.push_back({weight_name(i), dtype, {config.sizes[i + 1], config.sizes[i]}, net.weights(i)});
    file.tensors.push_back({bias_name(i), dtype, {config.sizes[i + 1]}, net.bias(i)});
  }
  for (const auto& t : file.tensors)
    if (std::any_of(t.values.begin(), t.values.end(), [](double v) { return !std::isfinite(v); }))
      throw Error(ErrorKind::argument, "save_model: tensor " + name_quote(t.name) +
                                           " holds a NaN or infinite value; such a model could not be loaded");
  file.metadata = net.metadata();
  file.metadata["format"] = format_name;
  file.metadata["format_version"] = format_version;
  file.metadata["sizes"] = metadata_counts_format(config.sizes);
  file.metadata["hidden_act"] = std::string(to_string(config.hidden_act));
  file.metadata["output_act"] = std::string(to_string(config.output_act));
  file.metadata["loss"] = std::string(to_string(config.loss));
  if (const InputScaler& scaler = net.scaler(); scaler.active()) {
    file.metadata["scaler.kind"] = std::string(to_string(scaler.kind));
    metadata_numbers_set(file.metadata, "scaler.offset", scaler.offset);
    metadata_numbers_set(file.metadata, "scaler.factor", scaler.factor);
  }
  return file;
}

std::vector<unsigned char> checksummed_encode(SafetensorsFile file) {
  file.metadata["crc32"] = std::string(crc_digits, '0');
  std::vector<unsigned char> bytes = safetensors_encode(file);
  const std::size_t at = crc_position(bytes, "save_model");
  const std::string hex = crc32_hex(crc_whole_file(bytes, at));
  std::copy(hex.begin(), hex.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at));
  return bytes;
}

std::vector<unsigned char> model_encode(const Network& net) { return checksummed_encode(model_file_make(net)); }

SafetensorsFile checksummed_decode(std::span<const unsigned char> bytes, const std::string& path,
                                   std::string_view format_wanted) {
  SafetensorsFile file = safetensors_decode(bytes, path);
  const auto& m = file.metadata;
  auto format = m.find("format");
  if (format == m.end() || format->second != format_wanted) {
    if (format_wanted == format_name)
      format_fail(path, "not a bpnn model file (metadata \"format\" is " +
                            (format == m.end() ? std::string("missing") : name_quote(format->second)) +
                            "); load_weights reads plain safetensors weights");
    format_fail(path, "not a " + std::string(format_wanted) + " file (metadata \"format\" is " +
                          (format == m.end() ? std::string("missing") : name_quote(format->second)) + ")");
  }
  checksum_check(bytes, file, path, true);
  return file;
}

Network model_decode(std::span<const unsigned char> bytes, const std::string& path) {
  return model_from_file(checksummed_decode(bytes, path, format_name), path);
}

Network model_from_file(const SafetensorsFile& file, const std::string& path) {
  const auto& m = file.metadata;

  NetworkConfig config;
  const std::string& sizes_text = metadata_need(path, m, "sizes");
  config.sizes = metadata_counts_parse(sizes_text, path, "sizes");
  if (config.sizes.size() < 2 || std::find(config.sizes.begin(), config.sizes.end(), 0) != config.sizes.end())
    format_fail(path, "metadata \"sizes\" = " + name_quote(sizes_text) +
                          " is not a list of at least two positive widths like \"2,4,1\"");
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

  // The declared sizes must be the tensors' shapes — all of which lie inside the file — before
  // any network is built: a short file cannot make bpnn allocate for "30000,30000,1".
  const std::vector<LayerTensors> layers = layers_find(file, config.sizes, path);
  names_check(path, m, "input_names", config.sizes.front(), "input", true);
  names_check(path, m, "output_names", config.sizes.back(), "output", false);

  std::optional<Network> net;
  try {
    net.emplace(config);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::argument) throw;
    format_fail(path, std::string("the stored configuration cannot make a network: ") + e.what());
  }
  layers_set(*net, layers, path);
  scaler_load(*net, m, path);
  for (const auto& [key, value] : m)
    if (!model_format_key(key)) net->metadata()[key] = value;
  return std::move(*net);
}

void save_model(const Network& net, const std::string& path) { output_file_write(path, model_encode(net)); }

Network load_model(const std::string& path) {
  const std::string bytes = file_read_all(path);
  return model_decode(bytes_of(bytes), path);
}

void load_weights(Network& net, const std::string& path) {
  const std::string bytes = file_read_all(path);
  const SafetensorsFile file = safetensors_decode(bytes_of(bytes), path);
  // A bpnn file carries a checksum: check it.
  auto format = file.metadata.find("format");
  if (format != file.metadata.end() && format->second == format_name) checksum_check(bytes_of(bytes), file, path, false);
  layers_set(net, layers_find(file, net.config().sizes, path), path);
}

}  // namespace bpnn
