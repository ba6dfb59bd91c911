#pragma once
// ONNX export: a Network as an ONNX model (opset 13) that ONNX Runtime, OpenCV's DNN module and
// the other ONNX runtimes load. Built in the separate library bpnn_onnx (CMake target bpnn_onnx,
// option BPNN_WITH_ONNX), so libbpnn itself never depends on protobuf.
//
// The graph, for input "input" [N, inputs] and output "output" [N, outputs], N symbolic:
//   Sub(input, "scaler.offset") → Mul(·, "scaler.factor")   only when the model has a scaler
//   per layer i: Gemm(x, "{i}.weight" [out, in], "{i}.bias" [out], transB=1)
//                then Sigmoid | Tanh | Relu | Softmax(axis=1) | nothing for linear
// Tensors are FLOAT for f32 networks and DOUBLE for f64 networks (initializers and I/O alike).
// An f32 model's scaler constants are rounded to f32, whereas Network::predict scales in double:
// a scaled input differs by about 6e-8·|offset|·factor (|mean|/σ for standard scaling), small
// unless a column's mean is hundreds of times its spread. metadata_props carries the network's "input_names", "output_names" and "classes"
// (JSON lists of names) when they are well-formed lists of the right length.
#include <string>

#include "bpnn/network.hpp"

namespace bpnn {

// The serialized ModelProto of `net`, checked with ONNX's own checker before it is returned.
// Throws Error(argument) when the model cannot be represented (over protobuf's 2 GiB limit) and
// Error(internal) when the checker rejects the graph (a bug in the exporter).
std::string onnx_export_model(const Network& net);

// The ONNX opset and IR version the exporter writes.
inline constexpr int onnx_export_opset = 13;
inline constexpr int onnx_export_ir_version = 7;

}  // namespace bpnn
