#include "io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

#include "bpnn/error.hpp"
#include "io/crc32.hpp"
#include "data/file_read.hpp"
#include "data/message_quote.hpp"
#include "io/output_file.hpp"

namespace bpnn {
namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; so does bpnn.
constexpr std::uint64_t header_max = 100'000'000;

// The deepest nesting a safetensors header needs: the header object, a tensor's entry, its
// "shape" or "data_offsets" array (and "__metadata__" only reaches 2).
constexpr std::size_t header_depth_max = 3;

// Checks, before any JSON parser sees the header, that its objects and arrays nest at most
// header_depth_max deep: a bracket counts only outside strings (a string runs from an unescaped
// '"' to the next unescaped '"'). No recursion, so any nesting is refused without a deep stack.
// Returns the byte offset of the first bracket too deep, or nullopt.
std::optional<std::size_t> header_too_deep(std::span<const unsigned char> header) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const unsigned char c = header[i];
    if (in_string) {
      if (c == '\\') ++i;  // skip the escaped byte
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > header_depth_max) return i;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

// At most `limit` bytes of a JSON value's text, for messages (see text_excerpt).
std::string json_excerpt(const json& v, std::size_t limit = excerpt_bytes) {
  return text_excerpt(v.dump(-1, ' ', false, json::error_handler_t::replace), limit);
}

// nlohmann's parse error, its "last read: '...'" token cut to an excerpt.
std::string parse_error_excerpt(const std::string& what) {
  static constexpr std::string_view marker = "last read: '";
  const auto at = what.find(marker);
  if (at == std::string::npos) return text_excerpt(what, 4 * excerpt_bytes);
  std::string token = what.substr(at + marker.size());
  if (!token.empty() && token.back() == '\'') token.pop_back();
  return text_excerpt(what.substr(0, at), 4 * excerpt_bytes) + "last read: '" + text_excerpt(token) + "'";
}

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }



// Bytes per element, 0 for a dtype bpnn does not read.
std::size_t dtype_size(const std::string& dtype) {
  if (dtype == "F64") return 8;
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

std::uint64_t le_load(const unsigned char* p, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

void le_store(unsigned char* p, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

// IEEE binary16: sign | 5-bit exponent (bias 15) | 10-bit fraction.
double f16_decode(std::uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1F;
  const int fraction = h & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(fraction, -24);
  if (exponent == 31)
    return fraction ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(fraction + 1024, exponent - 25);
}

// element i of a buffer of `dtype` → double (exact: every dtype here widens to double exactly).
double element_decode(const unsigned char* p, const std::string& dtype) {
  if (dtype == "F64") return std::bit_cast<double>(le_load(p, 8));
  if (dtype == "F32") return std::bit_cast<float>(static_cast<std::uint32_t>(le_load(p, 4)));
  if (dtype == "F16") return f16_decode(static_cast<std::uint16_t>(le_load(p, 2)));
  return std::bit_cast<float>(static_cast<std::uint32_t>(le_load(p, 2) << 16));  // BF16
}

// Product of the shape, or nullopt when it overflows size_t.
std::optional<std::size_t> shape_count(const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

struct Entry {
  SafetensorsTensor tensor;
  std::uint64_t begin, end;
};

class HeaderReader {
 public:
  explicit HeaderReader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(ErrorKind::format, source_ + ": " + what); }

  std::uint64_t unsigned_of(const json& v, const std::string& tensor, const char* field) const {
    if (!v.is_number_unsigned())
      fail("tensor " + name_quote(tensor) + ": \"" + field + "\" must hold non-negative integers, got " +
           json_excerpt(v));
    return v.get<std::uint64_t>();
  }

  Entry entry_read(const std::string& name, const json& v) const {
    const std::string where = "tensor " + name_quote(name);
    if (has_nul(name)) fail(where + ": the name contains a NUL character (\\u0000)");
    if (!v.is_object()) fail(where + ": entry is not a JSON object");
    auto field = [&](const char* key) -> const json& {
      auto it = v.find(key);
      if (it == v.end()) fail(where + ": missing \"" + key + "\"");
      return *it;
    };
    Entry e;
    e.tensor.name = name;
    const json& dtype = field("dtype");
    if (!dtype.is_string()) fail(where + ": \"dtype\" is not a string");
    e.tensor.dtype = dtype.get<std::string>();
    if (dtype_size(e.tensor.dtype) == 0)
      fail(where + ": unsupported dtype " + name_quote(e.tensor.dtype) + " (bpnn reads F32, F64, F16 and BF16)");
    const json& shape = field("shape");
    if (!shape.is_array()) fail(where + ": \"shape\" is not an array");
    for (const json& d : shape) {
      const std::uint64_t dim = unsigned_of(d, name, "shape");
      if (dim > std::numeric_limits<std::size_t>::max()) fail(where + ": shape too large");
      e.tensor.shape.push_back(static_cast<std::size_t>(dim));
    }
    const json& offsets = field("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2)
      fail(where + ": \"data_offsets\" must be an array [begin, end], got " + json_excerpt(offsets));
    e.begin = unsigned_of(offsets[0], name, "data_offsets");
    e.end = unsigned_of(offsets[1], name, "data_offsets");
    if (e.begin > e.end)
      fail(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
           "] end before they begin");
    const auto count = shape_count(e.tensor.shape);
    const std::size_t size = dtype_size(e.tensor.dtype);
    if (!count || *count > std::numeric_limits<std::uint64_t>::max() / size ||
        *count * size != e.end - e.begin)
      fail(where + ": shape " + shape_format(e.tensor.shape) + " of " + e.tensor.dtype + " needs " +
           (count ? std::to_string(*count) + " × " + std::to_string(size) + " bytes" : std::string("too many bytes")) +
           ", but data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] span " +
           std::to_string(e.end - e.begin));
    return e;
  }

  std::map<std::string, std::string> metadata_read(const json& v) const {
    if (!v.is_object()) fail("\"__metadata__\" is not a JSON object");
    std::map<std::string, std::string> out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_string())
        fail("\"__metadata__\" value of " + name_quote(it.key()) + " is not a string: " + json_excerpt(it.value()));
      // A NUL would silently cut the value (or key) short for every C caller: refuse it.
      if (has_nul(it.key())) fail("\"__metadata__\" key " + name_quote(it.key()) + " contains a NUL character (\\u0000)");
      std::string value = it.value().get<std::string>();
      if (has_nul(value))
        fail("\"__metadata__\" value of " + name_quote(it.key()) + " contains a NUL character (\\u0000)");
      out.emplace(it.key(), std::move(value));
    }
    return out;
  }

 private:
  const std::string& source_;
};

}  // namespace

SafetensorsFile safetensors_decode(std::span<const unsigned char> bytes, const std::string& source) {
  const HeaderReader reader(source);
  if (bytes.size() < 8)
    reader.fail("file is " + std::to_string(bytes.size()) +
                " bytes, too short for the 8-byte header length of a safetensors file");
  const std::uint64_t n = le_load(bytes.data(), 8);
  const std::uint64_t rest = bytes.size() - 8;
  if (n > rest)
    reader.fail("header length " + std::to_string(n) + " is beyond the file (" + std::to_string(rest) +
                " bytes follow the length field); the file is truncated or not safetensors");
  if (n > header_max) reader.fail("header length " + std::to_string(n) + " exceeds the 100 MB limit");

  const std::span<const unsigned char> header_bytes = bytes.subspan(8, static_cast<std::size_t>(n));
  if (const auto at = header_too_deep(header_bytes))
    reader.fail("header nests objects and arrays more than " + std::to_string(header_depth_max) +
                " levels deep (at header byte " + std::to_string(*at) + "); a safetensors header needs at most " +
                std::to_string(header_depth_max));
  json header;
  try {
    header = json::parse(header_bytes.begin(), header_bytes.end());
  } catch (const json::exception& e) {
    reader.fail("header is not valid JSON: " + parse_error_excerpt(e.what()));
  }
  if (!header.is_object()) reader.fail("header is not a JSON object");

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") file.metadata = reader.metadata_read(it.value());
    else entries.push_back(reader.entry_read(it.key(), it.value()));
  }

  // The tensors must tile the buffer: in offset order, each begins where the one before ended.
  const std::span<const unsigned char> buffer = bytes.subspan(8 + n);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    const std::string where = "tensor " + name_quote(e.tensor.name) + ": data_offsets [" +
                              std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.end > buffer.size())
      reader.fail(where + " run past the end of the " + std::to_string(buffer.size()) +
                  "-byte buffer; the file is truncated or corrupt");
    if (e.begin < at)
      reader.fail(where + " overlap tensor " + name_quote(entries[i - 1].tensor.name));
    if (e.begin > at)
      reader.fail("buffer bytes [" + std::to_string(at) + ", " + std::to_string(e.begin) +
                  ") belong to no tensor");
    at = e.end;
  }
  if (at != buffer.size())
    reader.fail("buffer bytes [" + std::to_string(at) + ", " + std::to_string(buffer.size()) +
                ") belong to no tensor (trailing data)");

  for (Entry& e : entries) {
    const std::size_t size = dtype_size(e.tensor.dtype);
    const std::size_t count = (e.end - e.begin) / size;
    e.tensor.values.resize(count);
    const unsigned char* p = buffer.data() + e.begin;
    for (std::size_t k = 0; k < count; ++k) e.tensor.values[k] = element_decode(p + k * size, e.tensor.dtype);
    file.tensors.push_back(std::move(e.tensor));
  }
  file.data_crc32 = crc32(buffer);
  return file;
}

std::vector<unsigned char> safetensors_data_encode(const std::vector<SafetensorsTensor>& tensors) {
  std::size_t total = 0;
  for (const auto& t : tensors) {
    const std::string where = "safetensors: tensor " + name_quote(t.name);
    if (t.dtype != "F32" && t.dtype != "F64")
      throw Error(ErrorKind::argument, where + ": bpnn writes F32 or F64, not " + name_quote(t.dtype));
    const auto count = shape_count(t.shape);
    if (!count || *count != t.values.size())
      throw Error(ErrorKind::argument, where + ": shape " + shape_format(t.shape) + " but " +
                                           std::to_string(t.values.size()) + " values");
    total += t.values.size() * dtype_size(t.dtype);
  }
  std::vector<unsigned char> out(total);
  unsigned char* p = out.data();
  for (const auto& t : tensors) {
    if (t.dtype == "F64")
      for (double v : t.values) { le_store(p, std::bit_cast<std::uint64_t>(v), 8); p += 8; }
    else
      for (double v : t.values) { le_store(p, std::bit_cast<std::uint32_t>(static_cast<float>(v)), 4); p += 4; }
  }
  return out;
}

std::vector<unsigned char> safetensors_encode(const SafetensorsFile& file) {
  const std::vector<unsigned char> data = safetensors_data_encode(file.tensors);
  json header = json::object();
  std::set<std::string> names;
  std::uint64_t at = 0;
  for (const auto& t : file.tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second)
      throw Error(ErrorKind::argument, "safetensors: tensor name " + name_quote(t.name) +
                                           " is empty, reserved or used twice");
    const std::uint64_t end = at + t.values.size() * dtype_size(t.dtype);
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {at, end}}};
    at = end;
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // a name or metadata string that is not UTF-8
    throw Error(ErrorKind::argument, std::string("safetensors: cannot write the header: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the buffer starts 8-byte aligned

  std::vector<unsigned char> out(8 + text.size() + data.size());
  le_store(out.data(), text.size(), 8);
  std::copy(text.begin(), text.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(text.size()));
  return out;
}

SafetensorsFile safetensors_read(const std::string& path) {
  const std::string bytes = file_read_all(path);
  return safetensors_decode({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, path);
}

void safetensors_write(const std::string& path, const SafetensorsFile& file) {
  output_file_write(path, safetensors_encode(file));
}

// One escaping rule for every message (engine/data/message_quote.hpp), with the format's
// longer cap.
std::string text_excerpt(std::string_view s, std::size_t limit) {
  std::string out;
  if (message_escape_append(out, s, limit)) out += "…";
  return out;
}

std::string name_quote(const std::string& s) { return message_quote(s, excerpt_bytes); }

std::string shape_format(const std::vector<std::size_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace bpnn
