// IDX files (the MNIST family) → DataTable: an images file, and optionally a labels file that
// becomes a text column. Both are read through zlib's gz* functions, which read a plain file as it
// is and inflate a gzip one as a stream.
//
// Sizes from a header are trusted only so far as the bytes bear them out: a plain file's length
// must be exactly what its header says before anything is reserved; a gzip stream is checked as
// it arrives, the table growing with the values read (a header alone never sizes a buffer), and
// must end right after the last record.
#include <sys/stat.h>
#include <zlib.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "data/csv_number.hpp"
#include "data/message_quote.hpp"
#include "data/row_range.hpp"
#include "nn/size_check.hpp"

namespace bpnn {
namespace {

// The element types of the IDX format, by their type code (magic byte 2).
struct IdxType {
  unsigned char code;
  std::size_t bytes;
  const char* name;
};
constexpr IdxType idx_types[] = {{0x08, 1, "unsigned byte"}, {0x09, 1, "signed byte"}, {0x0B, 2, "int16"},
                                 {0x0C, 4, "int32"},         {0x0D, 4, "float32"},     {0x0E, 8, "float64"}};

// One big-endian value of `type` at p, as a double (exact for every integer type).
double idx_value(const IdxType& type, const unsigned char* p) {
  std::uint64_t u = 0;
  for (std::size_t i = 0; i < type.bytes; ++i) u = (u << 8) | p[i];
  switch (type.code) {
    case 0x08: return static_cast<double>(u);
    case 0x09: return static_cast<double>(static_cast<std::int8_t>(u));
    case 0x0B: return static_cast<double>(static_cast<std::int16_t>(u));
    case 0x0C: return static_cast<double>(static_cast<std::int32_t>(u));
    case 0x0D: return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
    default: return std::bit_cast<double>(u);
  }
}

// A file read through zlib: plain as it is, gzip inflated. `offset` counts the bytes delivered
// (the decompressed bytes of a gzip file), which is what "byte N" in a message means.
class IdxStream {
 public:
  explicit IdxStream(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      throw Error(ErrorKind::io, message_path(path) + ": cannot open: " + std::strerror(err));
    }
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    gz_ = gzdopen(fd, "rb");
    if (!gz_) {
      ::close(fd);
      throw Error(ErrorKind::io, message_path(path) + ": cannot open: out of memory for zlib's buffers");
    }
    gzbuffer(gz_, 1 << 17);
    compressed_ = gzdirect(gz_) == 0;
    if (!compressed_ && regular) plain_size_ = static_cast<std::size_t>(st.st_size);
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;
  ~IdxStream() { gzclose(gz_); }

  // Reads up to n bytes; fewer only at the end of the data. A corrupt gzip stream is an error.
  std::size_t read(unsigned char* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const unsigned want = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
      const int r = gzread(gz_, buf + got, want);
      if (r < 0 || (r == 0 && stream_error())) fail_stream();
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    offset_ += got;
    return got;
  }

  std::size_t offset() const { return offset_; }
  bool compressed() const { return compressed_; }
  // The length of a plain regular file; nullopt for gzip, pipes and devices.
  std::optional<std::size_t> plain_size() const { return plain_size_; }
  const std::string& path() const { return path_; }

  [[noreturn]] void fail_at_byte(std::size_t byte, const std::string& what) const {
    throw Error(ErrorKind::data, message_path(path_) + ":byte " + std::to_string(byte) + ": " + what);
  }
  [[noreturn]] void fail_at_record(std::size_t record, const std::string& what) const {
    throw Error(ErrorKind::data, message_path(path_) + ":record " + std::to_string(record) + ": " + what);
  }
  // zlib's own words for a stream that ended early or is corrupt, for a message; "" when none.
  std::string stream_problem() const {
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    if (err == Z_OK || err == Z_STREAM_END || !msg) return "";
    return std::string(" (gzip: ") + msg + ")";
  }

 private:
  bool stream_error() const {
    int err = Z_OK;
    gzerror(gz_, &err);
    return err != Z_OK && err != Z_STREAM_END && err != Z_BUF_ERROR;  // Z_BUF_ERROR: ended early
  }
  [[noreturn]] void fail_stream() const {
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    if (err == Z_ERRNO) {
      const int e = errno;
      throw Error(ErrorKind::io, message_path(path_) + ": cannot read: " + std::strerror(e));
    }
    fail_at_byte(offset_, std::string("corrupt gzip stream: ") + (msg ? msg : "unknown error"));
  }

  std::string path_;
  gzFile gz_ = nullptr;
  bool compressed_ = false;
  std::optional<std::size_t> plain_size_;
  std::size_t offset_ = 0;
};

struct IdxHeader {
  IdxType type;
  std::size_t records = 0;       // the first dimension
  std::size_t width = 0;         // the product of the others (1 for idx1)
  std::size_t header_bytes = 0;  // 4 + 4·ndims
  std::size_t record_bytes = 0;  // width · type.bytes
  std::string shape;             // "60000 × 28 × 28", for messages
};

IdxHeader idx_header_read(IdxStream& s) {
  unsigned char magic[4];
  const std::size_t got = s.read(magic, 4);
  if (got < 4) s.fail_at_byte(got, "not an IDX file: it ends inside the 4 magic bytes (00 00 TYPE NDIMS)" + s.stream_problem());
  if (magic[0] != 0 || magic[1] != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02x %02x", magic[0], magic[1]);
    s.fail_at_byte(0, std::string("not an IDX file: it starts with ") + hex + ", expected 00 00 TYPE NDIMS");
  }
  IdxHeader h;
  const auto type = std::find_if(std::begin(idx_types), std::end(idx_types),
                                 [&](const IdxType& t) { return t.code == magic[2]; });
  if (type == std::end(idx_types)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", magic[2]);
    s.fail_at_byte(2, std::string("unknown IDX type code ") + hex +
                          " (expected 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32 or 0x0E float64)");
  }
  h.type = *type;
  const std::size_t ndims = magic[3];
  if (ndims == 0) s.fail_at_byte(3, "IDX file with 0 dimensions: no records");
  h.header_bytes = 4 + 4 * ndims;
  h.width = 1;
  for (std::size_t i = 0; i < ndims; ++i) {
    unsigned char b[4];
    if (s.read(b, 4) < 4)
      s.fail_at_byte(s.offset(), "the file ends inside its header (" + std::to_string(ndims) + " dimension sizes)" +
                                     s.stream_problem());
    const std::size_t d = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) | (std::size_t{b[2]} << 8) | b[3];
    if (d == 0) s.fail_at_byte(4 + 4 * i, "dimension " + std::to_string(i + 1) + " has size 0");
    if (i == 0) h.records = d;
    else if (__builtin_mul_overflow(h.width, d, &h.width))
      s.fail_at_byte(4 + 4 * i, "records of more than 2⁶⁴ values (dimensions " + h.shape + " × " + std::to_string(d) + " …)");
    h.shape += (i ? " × " : "") + std::to_string(d);
  }
  if (__builtin_mul_overflow(h.width, h.type.bytes, &h.record_bytes))
    s.fail_at_byte(4, "records of more than 2⁶⁴ bytes (" + h.shape + " " + h.type.name + " values)");
  // A plain file must be exactly as long as its header says, before anything is allocated.
  if (const auto size = s.plain_size()) {
    std::size_t expected = 0;
    if (__builtin_mul_overflow(h.records, h.record_bytes, &expected) ||
        __builtin_add_overflow(expected, h.header_bytes, &expected) || expected > *size)
      s.fail_at_byte(*size, "the file is truncated: its header says " + h.shape + " " + h.type.name +
                                " values, which take " +
                                (expected > *size ? std::to_string(expected) + " bytes" : std::string("more bytes than 2⁶⁴")) +
                                ", but the file has " + std::to_string(*size));
    if (expected < *size)
      s.fail_at_byte(expected, std::to_string(*size - expected) + " bytes after the last record (the header says " +
                                   h.shape + " " + h.type.name + " values)");
  }
  return h;
}

// Refuses a table of `rows` × `cols` doubles that this machine could not hold, before reading.
void idx_check_memory(const IdxStream& s, std::size_t rows, std::size_t cols) {
  std::size_t bytes = 0;
  const std::size_t memory = physical_memory_bytes();
  if (__builtin_mul_overflow(rows, cols, &bytes) || __builtin_mul_overflow(bytes, sizeof(double), &bytes) ||
      bytes > memory)
    s.fail_at_byte(0, std::to_string(rows) + " records of " + std::to_string(cols) +
                          " values need more than this machine's " + format_bytes(memory) + " of memory as doubles");
}

// Reads the header's records in order, appending each kept one's values (as doubles) to `out`,
// then calling done(record index, where its values begin in out). Skipped records are read and
// dropped. The stream must end after the last record.
template <class Done>
void idx_records_read(IdxStream& s, const IdxHeader& h, std::size_t keep_begin, std::size_t keep_end,
                      std::vector<double>& out, Done&& done) {
  // Chunks of whole values: a record of any width is read piecewise and `out` grows with what
  // arrives, so a header claiming huge records of a short stream allocates nothing beyond a chunk.
  constexpr std::size_t chunk_bytes = std::size_t{1} << 16;  // a multiple of every value size
  std::vector<unsigned char> chunk(std::min(chunk_bytes, h.record_bytes));
  for (std::size_t r = 0; r < h.records; ++r) {
    const bool keep = r >= keep_begin && r < keep_end;
    const std::size_t start = out.size();
    for (std::size_t left = h.record_bytes; left > 0;) {
      const std::size_t n = std::min(left, chunk.size());
      const std::size_t got = s.read(chunk.data(), n);
      if (got < n)
        s.fail_at_byte(s.offset(), "the data ends inside record " + std::to_string(r) + " of " +
                                       std::to_string(h.records) + " (the header says " + h.shape + " " +
                                       h.type.name + " values)" + s.stream_problem());
      left -= n;
      if (!keep) continue;
      const std::size_t count = n / h.type.bytes, at = out.size();
      out.resize(at + count);  // geometric growth: amortised, never beyond twice what arrived
      double* dst = out.data() + at;
      if (h.type.code == 0x08)  // unsigned bytes, the MNIST case: no byte order to undo
        for (std::size_t i = 0; i < count; ++i) dst[i] = chunk[i];
      else
        for (std::size_t i = 0; i < count; ++i) dst[i] = idx_value(h.type, chunk.data() + i * h.type.bytes);
    }
    if (keep) done(r, start);
  }
  unsigned char extra;
  if (s.read(&extra, 1) != 0)
    s.fail_at_byte(s.offset() - 1, "data after the last record (the header says " + h.shape + " " + h.type.name +
                                       " values)");
}

// A label value as a class name: the name it indexes, or the number written shortest.
std::string label_text(const IdxStream& s, std::size_t record, double v, const std::vector<std::string>& names) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string number(buf, ptr);
  if (names.empty()) return number;
  if (!(v >= 0 && v < static_cast<double>(names.size()) && v == std::floor(v)))
    s.fail_at_record(record, "label " + number + " has no name: the class list names labels 0 to " +
                                 std::to_string(names.size() - 1));
  return names[static_cast<std::size_t>(v)];
}

}  // namespace

DataTable read_idx(const std::string& images_path, const std::string& labels_path, const IdxOptions& options) {
  row_range_check(options.rows, "read_idx");
  IdxStream images(images_path);
  const IdxHeader ih = idx_header_read(images);
  std::optional<IdxStream> labels;
  IdxHeader lh;
  if (!labels_path.empty()) {
    labels.emplace(labels_path);
    lh = idx_header_read(*labels);
    if (lh.width != 1)
      labels->fail_at_byte(8, "a labels file holds one value per record, this one " + lh.shape);
    if (lh.records != ih.records)
      labels->fail_at_byte(4, std::to_string(lh.records) + " labels for the " + std::to_string(ih.records) +
                                  " records of " + message_path(images_path) + "; the counts must match");
  }
  const auto [keep_begin, keep_end] = row_range_resolve(options.rows, ih.records, images_path);
  const std::size_t kept = keep_end - keep_begin;

  DataTable t;
  t.source = images_path;
  t.format = TableFormat::idx;
  t.first_row = keep_begin;
  t.file_rows = ih.records;
  if (__builtin_add_overflow(ih.width, labels ? 1 : 0, &t.cols))
    images.fail_at_byte(4, "records of 2⁶⁴ − 1 values leave no room for a label column");
  idx_check_memory(images, kept, t.cols);
  if (images.plain_size()) {  // the length bears the header out: room for all at once
    t.numbers.reserve(kept * t.cols);
    t.row_origin.reserve(kept);
  }

  const double limit = number_magnitude_limit(options.precision);
  const bool floats = ih.type.code == 0x0D || ih.type.code == 0x0E;
  idx_records_read(images, ih, keep_begin, keep_end, t.numbers, [&](std::size_t r, std::size_t start) {
    if (floats)
      for (std::size_t j = start; j < t.numbers.size(); ++j)
        if (const double v = t.numbers[j]; !(std::fabs(v) < limit))
          images.fail_at_record(r, "value " + std::to_string(j - start) + " is " +
                                       (std::isnan(v)   ? std::string("NaN")
                                        : std::isinf(v) ? std::string("infinite")
                                                        : "out of range for " + std::string(to_string(options.precision))));
    if (labels) t.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
    t.row_origin.push_back(r);
    ++t.rows;
  });
  // Named only now that the stream has borne the width out (a gzip header alone could claim 2⁴⁰).
  t.columns.reserve(t.cols);
  for (std::size_t j = 0; j < ih.width; ++j) t.columns.push_back(std::to_string(j));
  if (labels) {
    t.columns.push_back("label");
    t.text_column = ih.width;
    t.text_source = labels_path;
    t.text.reserve(t.rows);  // the images bore the count out
    std::vector<double> values;
    values.reserve(t.rows);
    idx_records_read(*labels, lh, keep_begin, keep_end, values, [&](std::size_t r, std::size_t start) {
      if (!std::isfinite(values[start])) labels->fail_at_record(r, "the label is not a finite number");
      t.text.push_back(label_text(*labels, r, values[start], options.label_names));
    });
  }
  return t;
}

}  // namespace bpnn
