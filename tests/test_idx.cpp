// The IDX reader (MNIST family): plain and gzip files written here, their counts checked against
// the bytes, row ranges, labels as classes, and located errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "cli_run.hpp"
#include "idx_test_util.hpp"
#include "io_test_util.hpp"

using bpnn::DataTable;
using bpnn::ErrorKind;
using bpnn::read_idx;
using bpnn_test::error_of;
using bpnn_test::file_text;
using bpnn_test::file_write;
using bpnn_test::gz_write;
using bpnn_test::idx_bytes;
using bpnn_test::idx_ubyte;
using bpnn_test::ScratchDir;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// Three 2×2 images with pixel values 10·record + pixel, and labels 2, 10, 1.
const std::string images = idx_ubyte({3, 2, 2}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 255});
const std::string labels = idx_ubyte({3}, {2, 10, 1});

bpnn::Error data_error_of(const std::string& images_path, const std::string& labels_path,
                          const bpnn::IdxOptions& options = {}) {
  auto e = error_of([&] { read_idx(images_path, labels_path, options); });
  CHECK(e.kind() == ErrorKind::data);
  return e;
}

}  // namespace

TEST_CASE("IDX images and labels, plain and gzip, become one table", "[idx][data]") {
  ScratchDir dir;
  file_write(dir.path / "i", images);
  file_write(dir.path / "l", labels);
  gz_write(dir.path / "i.gz", images);
  gz_write(dir.path / "l.gz", labels);
  REQUIRE(file_text(dir.path / "i.gz").substr(0, 2) == "\x1f\x8b");
  for (auto [i, l] : {std::pair{"i", "l"}, {"i.gz", "l.gz"}, {"i.gz", "l"}}) {
    const DataTable t = read_idx((dir.path / i).string(), (dir.path / l).string());
    CHECK(t.format == bpnn::TableFormat::idx);
    CHECK(t.rows == 3);
    CHECK(t.cols == 5);
    CHECK(t.columns == std::vector<std::string>{"0", "1", "2", "3", "label"});
    REQUIRE(t.text_column == std::optional<std::size_t>{4});
    CHECK(t.text == std::vector<std::string>{"2", "10", "1"});
    CHECK(t.text_source == (dir.path / l).string());
    CHECK(t.row_origin == std::vector<std::size_t>{0, 1, 2});
    REQUIRE(t.numbers.size() == 15);
    CHECK(t.numbers[0] == 0);
    CHECK(t.numbers[5] == 10);
    CHECK(t.numbers[13] == 255);  // pixels keep their values
    CHECK(std::isnan(t.numbers[4]));
    // Labels one-hot, the classes sorted numerically.
    const bpnn::Dataset d = bpnn::dataset_from_label(t, "label");
    CHECK(d.classes == std::vector<std::string>{"1", "2", "10"});
    CHECK(d.inputs == 4);
    CHECK(d.y == std::vector<double>{0, 1, 0, 0, 0, 1, 1, 0, 0});
  }
  // Images alone.
  const DataTable t = read_idx((dir.path / "i.gz").string());
  CHECK(t.cols == 4);
  CHECK_FALSE(t.text_column);
  CHECK(t.numbers.size() == 12);
}

TEST_CASE("IDX labels named by a class list, by value", "[idx][data]") {
  ScratchDir dir;
  file_write(dir.path / "i", images);
  file_write(dir.path / "l", idx_ubyte({3}, {2, 0, 1}));
  bpnn::IdxOptions o;
  o.label_names = {"zero", "one", "two"};
  const DataTable t = read_idx((dir.path / "i").string(), (dir.path / "l").string(), o);
  CHECK(t.text == std::vector<std::string>{"two", "zero", "one"});
  const bpnn::Dataset d = bpnn::dataset_from_label(t, "label", o.label_names);
  CHECK(d.y == std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0});
  // A label the list does not name: at its record in the labels file.
  o.label_names = {"zero", "one"};
  CHECK(data_error_of((dir.path / "i").string(), (dir.path / "l").string(), o).what() ==
        (dir.path / "l").string() + ":record 0: label 2 has no name: the class list names labels 0 to 1");
  // A fixed class list that misses a label: the dataset names the label's record.
  const DataTable plain = read_idx((dir.path / "i").string(), (dir.path / "l").string());
  auto e = error_of([&] { bpnn::dataset_from_label(plain, "label", {"0", "1"}); });
  CHECK_THAT(e.what(), StartsWith((dir.path / "l").string() + ":record 0: unknown class \"2\""));
}

TEST_CASE("IDX row ranges keep only their records, plain and gzip", "[idx][data][table]") {
  ScratchDir dir;
  file_write(dir.path / "i", images);
  gz_write(dir.path / "i.gz", images);
  gz_write(dir.path / "l.gz", labels);
  for (const char* i : {"i", "i.gz"}) {
    bpnn::IdxOptions o;
    o.rows = bpnn::RowRange{1, 3};
    const DataTable t = read_idx((dir.path / i).string(), (dir.path / "l.gz").string(), o);
    CHECK(t.rows == 2);
    CHECK(t.first_row == 1);
    CHECK(t.row_origin == std::vector<std::size_t>{1, 2});
    CHECK(t.file_rows == 3);
    CHECK(t.text == std::vector<std::string>{"10", "1"});
    CHECK(t.numbers[0] == 10);
    o.rows = bpnn::RowRange{3, 3};  // empty, at the end: allowed
    CHECK(read_idx((dir.path / i).string(), "", o).rows == 0);
    o.rows = bpnn::RowRange{2, 4};
    CHECK(data_error_of((dir.path / i).string(), "", o).what() ==
          (dir.path / i).string() + ": rows [2, 4) were asked for, but the file holds 3 data rows");
    o.rows = bpnn::RowRange{4};
    CHECK_THAT(data_error_of((dir.path / i).string(), "", o).what(), Contains("rows [4, end) were asked for"));
  }
  // An error in a record outside the range is still found (the stream is read to its end).
  gz_write(dir.path / "short.gz", images.substr(0, images.size() - 1));
  bpnn::IdxOptions o;
  o.rows = bpnn::RowRange{0, 1};
  CHECK_THAT(data_error_of((dir.path / "short.gz").string(), "", o).what(),
             Contains("the data ends inside record 2 of 3"));
}

TEST_CASE("IDX files whose bytes disagree with their header are refused at a byte", "[idx][data]") {
  ScratchDir dir;
  const auto path = [&](const char* name) { return (dir.path / name).string(); };
  SECTION("plain: truncated, or bytes after the last record, checked against the file's length") {
    file_write(dir.path / "t", images.substr(0, images.size() - 1));
    CHECK(data_error_of(path("t"), "").what() ==
          path("t") + ":byte 27: the file is truncated: its header says 3 × 2 × 2 unsigned byte values, which take "
                      "28 bytes, but the file has 27");
    file_write(dir.path / "x", images + "zz");
    CHECK(data_error_of(path("x"), "").what() ==
          path("x") + ":byte 28: 2 bytes after the last record (the header says 3 × 2 × 2 unsigned byte values)");
    // A header claiming 4·10⁹ records of 4·10⁹ values: refused before any allocation.
    file_write(dir.path / "huge", idx_bytes(0x08, {4000000000u, 4000000000u}, "abc"));
    CHECK_THAT(data_error_of(path("huge"), "").what(), StartsWith(path("huge") + ":byte 15: the file is truncated"));
  }
  SECTION("gzip: checked as the stream arrives, buffers never sized from the header") {
    gz_write(dir.path / "t.gz", images.substr(0, images.size() - 1));
    CHECK(data_error_of(path("t.gz"), "").what() ==
          path("t.gz") + ":byte 27: the data ends inside record 2 of 3 (the header says 3 × 2 × 2 unsigned byte values)");
    gz_write(dir.path / "x.gz", images + "z");
    CHECK(data_error_of(path("x.gz"), "").what() ==
          path("x.gz") + ":byte 28: data after the last record (the header says 3 × 2 × 2 unsigned byte values)");
    // Ten million 1000-value records claimed (80 GB as doubles), three bytes there.
    gz_write(dir.path / "claim.gz", idx_bytes(0x08, {10000000u, 1000u}, "abc"));
    const std::string claim = data_error_of(path("claim.gz"), "").what();
    CHECK_THAT(claim, StartsWith(path("claim.gz") + ":byte "));
    // A gzip stream cut short, and one whose check value is wrong.
    gz_write(dir.path / "ok.gz", images);
    std::string gz = file_text(dir.path / "ok.gz");
    file_write(dir.path / "cut.gz", gz.substr(0, gz.size() - 12));
    CHECK_THAT(data_error_of(path("cut.gz"), "").what(), StartsWith(path("cut.gz") + ":byte "));
    gz[gz.size() - 6] ^= 0x55;  // the stored length: zlib's check fails
    file_write(dir.path / "bad.gz", gz);
    CHECK_THAT(data_error_of(path("bad.gz"), "").what(), Contains("gzip"));
  }
  SECTION("the header itself") {
    file_write(dir.path / "csv", "a,b\n1,2\n");
    CHECK(data_error_of(path("csv"), "").what() ==
          path("csv") + ":byte 0: not an IDX file: it starts with 61 2c, expected 00 00 TYPE NDIMS");
    file_write(dir.path / "type", idx_bytes(0x0A, {1}, "x"));
    CHECK_THAT(data_error_of(path("type"), "").what(), StartsWith(path("type") + ":byte 2: unknown IDX type code 0x0a"));
    file_write(dir.path / "zero", idx_bytes(0x08, {2, 0}, ""));
    CHECK(data_error_of(path("zero"), "").what() == path("zero") + ":byte 8: dimension 2 has size 0");
    file_write(dir.path / "nodims", idx_bytes(0x08, {}, ""));
    CHECK_THAT(data_error_of(path("nodims"), "").what(), StartsWith(path("nodims") + ":byte 3: "));
    file_write(dir.path / "short", std::string("\0\0\x08\x03\0\0", 6));
    CHECK_THAT(data_error_of(path("short"), "").what(), StartsWith(path("short") + ":byte 6: the file ends inside its header"));
    file_write(dir.path / "empty", "");
    CHECK_THAT(data_error_of(path("empty"), "").what(), StartsWith(path("empty") + ":byte 0: not an IDX file"));
  }
  SECTION("the labels: one per image, one value per record") {
    file_write(dir.path / "i", images);
    file_write(dir.path / "l2", idx_ubyte({2}, {1, 2}));
    CHECK(data_error_of(path("i"), path("l2")).what() ==
          path("l2") + ":byte 4: 2 labels for the 3 records of " + path("i") + "; the counts must match");
    file_write(dir.path / "wide", idx_ubyte({3, 2}, {1, 2, 3, 4, 5, 6}));
    CHECK(data_error_of(path("i"), path("wide")).what() ==
          path("wide") + ":byte 8: a labels file holds one value per record, this one 3 × 2");
  }
  auto missing = error_of([&] { read_idx(path("nope"), ""); });
  CHECK(missing.kind() == ErrorKind::io);
}

TEST_CASE("IDX type codes other than unsigned byte", "[idx][data]") {
  ScratchDir dir;
  const auto path = (dir.path / "v").string();
  file_write(path, idx_bytes(0x09, {2}, "\xff\x05"));
  CHECK(read_idx(path).numbers == std::vector<double>{-1, 5});
  file_write(path, idx_bytes(0x0B, {2}, std::string("\xff\xfe\x01\x00", 4)));
  CHECK(read_idx(path).numbers == std::vector<double>{-2, 256});
  file_write(path, idx_bytes(0x0C, {1}, std::string("\x80\0\0\0", 4)));
  CHECK(read_idx(path).numbers == std::vector<double>{-2147483648.0});
  file_write(path, idx_bytes(0x0D, {1, 2}, std::string("\x3f\xc0\0\0\xc0\x20\0\0", 8)));
  CHECK(read_idx(path).numbers == std::vector<double>{1.5, -2.5});
  file_write(path, idx_bytes(0x0E, {1}, std::string("\x3f\xf8\0\0\0\0\0\0", 8)));
  CHECK(read_idx(path).numbers == std::vector<double>{1.5});
  // A NaN float, and a double that overflows f32: at their record.
  file_write(path, idx_bytes(0x0D, {2, 1}, std::string("\0\0\0\0\x7f\xc0\0\0", 8)));
  CHECK(data_error_of(path, "").what() == path + ":record 1: value 0 is NaN");
  file_write(path, idx_bytes(0x0E, {1}, std::string("\x7f\0\0\0\0\0\0\0", 8)));
  CHECK(read_idx(path).numbers.size() == 1);
  bpnn::IdxOptions f32;
  f32.precision = bpnn::Precision::f32;
  CHECK(data_error_of(path, "", f32).what() == path + ":record 0: value 0 is out of range for f32");
}
