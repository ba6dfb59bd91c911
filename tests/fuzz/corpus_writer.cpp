// Writes the fuzz inputs that are made rather than kept: model files saved by this tree's engine
// (so the seeds follow the current format version), every single-bit flip of a model's header,
// and the regression inputs too large to commit (the 100 000-level nested headers and a
// CSV of 100 000 columns followed by a million blank lines).
//
//   corpus_writer DIR   writes seeds to DIR/corpus/{model,weights}/ and regression inputs to
//                       DIR/regression/{model,weights,csv,header_flips}/; tools/run-fuzz.sh runs
//                       it before every run (the committed corpora keep older format versions).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"

namespace {

using namespace bpnn;
namespace fs = std::filesystem;

void file_write(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(ErrorKind::io, path.string() + ": cannot write");
}

std::string file_read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A small network with distinct non-zero parameters, saved as a model file.
std::string model_bytes(const fs::path& dir, const std::string& name, const NetworkConfig& config,
                        const std::vector<std::string>& input_names) {
  Network net(config);
  for (std::size_t i = 0; i < net.n_layers(); ++i) {
    std::vector<double> w = net.weights(i), b = net.bias(i);
    for (std::size_t k = 0; k < w.size(); ++k) w[k] = 0.125 * static_cast<double>(k + 1) - 0.5;
    for (std::size_t k = 0; k < b.size(); ++k) b[k] = -0.25 * static_cast<double>(k + 1);
    net.set_layer(i, w, b);
  }
  std::string names = "[";
  for (std::size_t i = 0; i < input_names.size(); ++i) names += (i ? ",\"" : "\"") + input_names[i] + "\"";
  net.metadata()["input_names"] = names + "]";
  const fs::path path = dir / name;
  save_model(net, path.string());
  return file_read(path);
}

NetworkConfig config_make(std::vector<std::size_t> sizes, Precision p, Activation hidden, Activation output,
                          Loss loss) {
  NetworkConfig c;
  c.sizes = std::move(sizes);
  c.precision = p;
  c.hidden_act = hidden;
  c.output_act = output;
  c.loss = loss;
  c.init = Init::zero;
  return c;
}

// u64 little-endian header length, header, buffer.
std::string safetensors_raw(const std::string& header, const std::string& buffer) {
  std::string out(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xffu);
  return out + header + buffer;
}

std::string nested(std::size_t depth, const std::string& inner) {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

void models_write(const fs::path& model_dir, const fs::path& weights_dir, const fs::path& flips) {
  struct Spec {
    std::string name;
    NetworkConfig config;
    std::vector<std::string> inputs;
  };
  const std::vector<Spec> specs = {
      {"f32_2-4-1_sigmoid.safetensors", config_make({2, 4, 1}, Precision::f32, Activation::sigmoid, Activation::sigmoid, Loss::mse), {"a", "b"}},
      {"f64_2-4-1_tanh.safetensors", config_make({2, 4, 1}, Precision::f64, Activation::tanh, Activation::linear, Loss::mse), {"a", "b"}},
      {"f32_4-8-3_softmax.safetensors", config_make({4, 8, 3}, Precision::f32, Activation::relu, Activation::softmax, Loss::xent), {"sl", "sw", "pl", "pw"}},
      {"f64_4-8-3_softmax.safetensors", config_make({4, 8, 3}, Precision::f64, Activation::tanh, Activation::softmax, Loss::xent), {"sl", "sw", "pl", "pw"}},
  };
  std::string first;
  for (const Spec& s : specs) {
    const std::string bytes = model_bytes(model_dir, s.name, s.config, s.inputs);
    file_write(weights_dir / s.name, bytes);
    if (first.empty()) first = bytes;
  }

  // Every single-bit flip of the first model's length field and header.
  std::uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= std::uint64_t(static_cast<unsigned char>(first[i])) << (8 * i);
  for (std::size_t byte = 0; byte < 8 + header_len && byte < first.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = first;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      file_write(flips / ("flip_" + std::to_string(byte) + "_" + std::to_string(bit)), flipped);
    }
}

// Issue 8 defect 3: JSON nesting 100 000 levels deep in a tensor's shape, its data_offsets, and
// a metadata value (each about 200 KB).
void nested_write(const fs::path& dir) {
  const std::size_t depth = 100000;
  const std::string buffer(16, '\0');
  file_write(dir / "nested_shape.safetensors",
             safetensors_raw("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":" + nested(depth, "1") +
                                 ",\"data_offsets\":[0,16]}}",
                             buffer));
  file_write(dir / "nested_data_offsets.safetensors",
             safetensors_raw("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":" +
                                 nested(depth, "0,16") + "}}",
                             buffer));
  file_write(dir / "nested_metadata.safetensors",
             safetensors_raw("{\"__metadata__\":{\"format\":\"bpnn\",\"sizes\":" + nested(depth, "") +
                                 "},\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                             buffer));
}

// Issue 8 defect 5: a valid CSV of 100 000 columns followed by a million blank lines.
void wide_csv_write(const fs::path& dir) {
  const std::size_t cols = 100000;
  std::string text;
  text.reserve(cols * 8 + 1000000);
  for (std::size_t j = 0; j < cols; ++j) text += (j ? ",c" : "c") + std::to_string(j);
  text += '\n';
  for (std::size_t j = 0; j < cols; ++j) text += j ? ",1" : "1";
  text += '\n';
  text.append(1000000, '\n');
  file_write(dir / "wide_100000_columns_blank_lines.csv", text);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const fs::path corpus = fs::path(argv[1]) / "corpus", regression = fs::path(argv[1]) / "regression";
    for (const char* sub : {"model", "weights"}) fs::create_directories(corpus / sub);
    for (const char* sub : {"model", "weights", "csv", "header_flips"}) fs::create_directories(regression / sub);
    models_write(corpus / "model", corpus / "weights", regression / "header_flips");
    nested_write(regression / "model");
    nested_write(regression / "weights");
    wide_csv_write(regression / "csv");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corpus_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
