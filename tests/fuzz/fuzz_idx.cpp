// Fuzz target: the IDX reader (bpnn::read_idx) on an images file and a labels file, each plain or
// gzip-compressed here, whole and over row ranges, then the one-hot data set train builds.
// Input: byte 0 holds flags (bit 0: gzip the images, bit 1: there is a labels file, bit 2: gzip
// it, bit 3: read in f32, bits 4–5: the row range: all, [1, end), [0, 1), [2, 3)), bytes 1–2 the
// images' length (big-endian, capped at the rest); the images follow, then the labels.
// Checks beyond the sanitizers: see fuzz_check.hpp (every data error at "FILE: ", "FILE:byte N: "
// or "FILE:record N: " of one of the two files), plus the table's shape, values finite in the
// requested precision, and one label per row.
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace bpnn;
using fuzz::finding;

std::string gzip(const std::uint8_t* bytes, std::size_t size) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) finding("setup", "deflateInit2");
  std::string out(deflateBound(&z, size), '\0');
  z.next_in = const_cast<std::uint8_t*>(bytes);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) finding("setup", "deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

const std::string& file_hold(fuzz::MemoryFile& f, const std::uint8_t* bytes, std::size_t size, bool compress) {
  if (!compress) return f.hold(bytes, size);
  const std::string gz = gzip(bytes, size);
  return f.hold(reinterpret_cast<const std::uint8_t*>(gz.data()), gz.size());
}

void table_check(const DataTable& t, Precision precision, bool labels, const std::optional<RowRange>& rows) {
  if (t.cols == 0 || t.columns.size() != t.cols) finding("table: no columns, or columns.size() != cols", "");
  if (t.numbers.size() != t.rows * t.cols) finding("table: numbers.size() != rows * cols", "");
  if (t.row_origin.size() != t.rows) finding("table: row_origin.size() != rows", "");
  if (labels != t.text_column.has_value() || (labels && (t.text.size() != t.rows || *t.text_column != t.cols - 1)))
    finding("table: the label column does not match the labels file", "");
  for (std::size_t r = 0; r < t.rows; ++r)
    if (t.row_origin[r] != t.first_row + r) finding("table: a row's record is not its place in the range", "");
  if (rows && t.first_row != rows->begin) finding("table: first_row is not the range's begin", "");
  if (t.first_row + t.rows > t.file_rows) finding("table: rows beyond the file's row count", "");
  const double limit = precision == Precision::f32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
  for (std::size_t i = 0; i < t.numbers.size(); ++i) {
    if (labels && i % t.cols == t.cols - 1) continue;
    if (!(std::fabs(t.numbers[i]) <= limit)) finding("table holds a value that is not finite", std::to_string(t.numbers[i]));
  }
}

// An Error of a data kind naming one of the two files.
void error_check(const Error& e, const std::string& images, const std::string& labels) {
  const std::string_view msg = e.what();
  const bool labels_named = !labels.empty() && msg.substr(0, labels.size() + 1) == labels + ":";
  fuzz::error_check(e, {ErrorKind::data}, labels_named ? labels : images, fuzz::Where::byte_or_record);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile images_file, labels_file;
  if (size < 3) return 0;
  const unsigned flags = data[0];
  const std::size_t images_size = std::min<std::size_t>((std::size_t{data[1]} << 8) | data[2], size - 3);
  const std::uint8_t* images_bytes = data + 3;
  const bool labelled = flags & 2;
  const std::string images = file_hold(images_file, images_bytes, images_size, flags & 1);
  const std::string labels =
      labelled ? file_hold(labels_file, images_bytes + images_size, size - 3 - images_size, flags & 4) : std::string();
  IdxOptions options;
  options.precision = flags & 8 ? Precision::f32 : Precision::f64;
  switch ((flags >> 4) & 3) {
    case 0: break;
    case 1: options.rows = RowRange{1}; break;
    case 2: options.rows = RowRange{0, 1}; break;
    case 3: options.rows = RowRange{2, 3}; break;
  }
  try {
    const DataTable t = read_idx(images, labels, options);
    table_check(t, options.precision, labelled, options.rows);
    if (labelled) {
      try {
        const Dataset d = dataset_from_label(t, "label");
        if (d.n != t.rows || d.inputs + 1 != t.cols || d.y.size() != d.n * d.outputs)
          finding("dataset: shapes do not match the table", "");
      } catch (const Error& e) {
        error_check(e, images, labels);
      }
    }
  } catch (const Error& e) {
    error_check(e, images, labels);
  } catch (const std::exception& e) {
    finding("exception other than bpnn::Error", e.what());
  }
  return 0;
}
