// bpnn export model.safetensors --onnx model.onnx  → the model as ONNX (opset 13)
#include <memory>
#include <span>
#include <string>

#include "bpnn/commands.hpp"
#include "bpnn/error.hpp"
#include "bpnn/exit_codes.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"

#if BPNN_HAVE_ONNX
#include "bpnn/onnx_export.hpp"
#include "io/output_file.hpp"
#endif

namespace bpnn::cli {
namespace {

struct ExportOptions {
  std::string model_path, onnx_path;
};

#if BPNN_HAVE_ONNX
void run_export(const ExportOptions& o) {
  const Network net = load_model(o.model_path);
  const std::string bytes = onnx_export_model(net);
  output_file_write(o.onnx_path, std::string_view(bytes));  // bpnn's one output rule
}
#else
[[noreturn]] void run_export(const ExportOptions&) {
  throw Error(ErrorKind::argument,
              "built without ONNX support (install libonnx-dev and libprotobuf-dev and rebuild)");
}
#endif

}  // namespace

void export_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a trained model in another format: ONNX (opset 13) for ONNX Runtime, OpenCV, ...");
  cmd->add_option("model", o->model_path, "Model file (.safetensors) written by bpnn train")
      ->required();
  cmd->add_option("--onnx", o->onnx_path, "ONNX file to write (.onnx)")->required();
  cmd->callback([o, &exit_code] {
    run_export(*o);
    exit_code = exit_ok;
  });
}

}  // namespace bpnn::cli
