// bpnn::onnx_export_model: a Network as an ONNX ModelProto, built with ONNX's own generated
// protobuf classes and checked with ONNX's checker.
#include "bpnn/onnx_export.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/error.hpp"
#include "bpnn/version.hpp"

namespace bpnn {
namespace {

using onnx::TensorProto;

int onnx_element_type(Precision p) {
  switch (p) {
    case Precision::f32: return TensorProto::FLOAT;
    case Precision::f64: return TensorProto::DOUBLE;
  }
  throw Error(ErrorKind::internal, "onnx export: unknown precision");
}

// An initializer `name` of `dims` holding `values`, stored as FLOAT or DOUBLE (f32 values of an
// f32 network are exact in double, so the conversion back is exact).
void graph_add_initializer(onnx::GraphProto& g, const std::string& name,
                           const std::vector<std::int64_t>& dims, const std::vector<double>& values,
                           Precision p) {
  TensorProto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx_element_type(p));
  for (std::int64_t d : dims) t->add_dims(d);
  switch (p) {
    case Precision::f32:
      t->mutable_float_data()->Reserve(static_cast<int>(values.size()));
      for (double v : values) t->add_float_data(static_cast<float>(v));
      return;
    case Precision::f64:
      t->mutable_double_data()->Reserve(static_cast<int>(values.size()));
      for (double v : values) t->add_double_data(v);
      return;
  }
}

onnx::NodeProto* graph_add_node(onnx::GraphProto& g, const std::string& op,
                                const std::vector<std::string>& inputs, const std::string& output,
                                const std::string& name) {
  onnx::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const std::string& in : inputs) n->add_input(in);
  n->add_output(output);
  return n;
}

void node_set_int_attribute(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

// A graph input or output `name` of shape [N, width], N symbolic.
void value_info_set(onnx::ValueInfoProto& v, const std::string& name, std::size_t width, Precision p) {
  v.set_name(name);
  onnx::TypeProto_Tensor* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx_element_type(p));
  onnx::TensorShapeProto* shape = t->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  shape->add_dim()->set_dim_value(static_cast<std::int64_t>(width));
}

// The op type of activation `a`, or nullopt for linear (no node).
std::optional<std::string> activation_op(Activation a) {
  switch (a) {
    case Activation::sigmoid: return "Sigmoid";
    case Activation::tanh: return "Tanh";
    case Activation::relu: return "Relu";
    case Activation::softmax: return "Softmax";
    case Activation::linear: return std::nullopt;
  }
  throw Error(ErrorKind::internal, "onnx export: unknown activation");
}

// The network's metadata `key` as a JSON list of `count` names, read leniently: numbers become
// their text; anything else (absent, not JSON, not a list, the wrong length) gives nullopt and the
// key is left out of the ONNX model rather than failing the export.
std::optional<std::string> metadata_name_list(const Network& net, const std::string& key,
                                              std::size_t count) {
  const auto it = net.metadata().find(key);
  if (it == net.metadata().end()) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array() || j.size() != count) return std::nullopt;
  nlohmann::json names = nlohmann::json::array();
  for (const nlohmann::json& v : j) {
    if (v.is_string()) names.push_back(v);
    else if (v.is_number()) names.push_back(v.dump());
    else return std::nullopt;
  }
  return names.dump();
}

void model_add_metadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* e = m.add_metadata_props();
  e->set_key(key);
  e->set_value(value);
}

// "bpnn network 4-8-3, hidden tanh, output softmax, f32, standard input scaling"; appended piece by
// piece (GCC 12's -Wrestrict misfires on chains of string temporaries).
std::string network_summary(const Network& net) {
  const NetworkConfig& c = net.config();
  std::string s = "bpnn network ";
  for (std::size_t i = 0; i < c.sizes.size(); ++i) {
    if (i) s += '-';
    s += std::to_string(c.sizes[i]);
  }
  s += ", hidden ";
  s += to_string(c.hidden_act);
  s += ", output ";
  s += to_string(c.output_act);
  s += ", ";
  s += to_string(c.precision);
  if (net.scaler().active()) {
    s += ", ";
    s += to_string(net.scaler().kind);
    s += " input scaling";
  }
  return s;
}

onnx::ModelProto network_to_model(const Network& net) {
  const NetworkConfig& c = net.config();
  const Precision p = c.precision;

  onnx::ModelProto m;
  m.set_ir_version(onnx_export_ir_version);
  m.set_producer_name("bpnn");
  m.set_producer_version(BPNN_VERSION_STRING);
  m.set_doc_string(network_summary(net));
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(onnx_export_opset);

  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("bpnn");
  value_info_set(*g.add_input(), "input", net.n_inputs(), p);
  value_info_set(*g.add_output(), "output", net.n_outputs(), p);

  std::string x = "input";
  const InputScaler& scaler = net.scaler();
  if (scaler.active()) {
    const auto in = static_cast<std::int64_t>(net.n_inputs());
    graph_add_initializer(g, "scaler.offset", {in}, scaler.offset, p);
    graph_add_initializer(g, "scaler.factor", {in}, scaler.factor, p);
    graph_add_node(g, "Sub", {x, "scaler.offset"}, "scaler.centered", "scaler_sub");
    graph_add_node(g, "Mul", {"scaler.centered", "scaler.factor"}, "scaler.output", "scaler_mul");
    x = "scaler.output";
  }

  const std::size_t layers = net.n_layers();
  for (std::size_t i = 0; i < layers; ++i) {
    const bool last = i + 1 == layers;
    const std::string prefix = std::to_string(i);
    const auto in = static_cast<std::int64_t>(c.sizes[i]);
    const auto out = static_cast<std::int64_t>(c.sizes[i + 1]);
    graph_add_initializer(g, prefix + ".weight", {out, in}, net.weights(i), p);
    graph_add_initializer(g, prefix + ".bias", {out}, net.bias(i), p);

    const std::optional<std::string> act = activation_op(last ? c.output_act : c.hidden_act);
    const std::string y = last ? std::string("output") : prefix + ".output";
    const std::string z = act ? prefix + ".linear" : y;
    onnx::NodeProto* gemm = graph_add_node(g, "Gemm", {x, prefix + ".weight", prefix + ".bias"}, z,
                                           prefix + "_gemm");
    node_set_int_attribute(*gemm, "transB", 1);
    if (act) {
      onnx::NodeProto* a = graph_add_node(g, *act, {z}, y, prefix + "_" + *act);
      if (*act == "Softmax") node_set_int_attribute(*a, "axis", 1);
    }
    x = y;
  }

  if (auto names = metadata_name_list(net, "input_names", net.n_inputs()))
    model_add_metadata(m, "input_names", *names);
  if (auto names = metadata_name_list(net, "output_names", net.n_outputs()))
    model_add_metadata(m, "output_names", *names);
  if (auto names = metadata_name_list(net, "classes", net.n_outputs()))
    model_add_metadata(m, "classes", *names);
  if (scaler.active()) model_add_metadata(m, "scaling", std::string(to_string(scaler.kind)));
  return m;
}

}  // namespace

std::string onnx_export_model(const Network& net) {
  // Protobuf messages are limited to 2 GiB; a larger network needs ONNX's external data files.
  // The parameters alone decide it, so refuse before building anything that large.
  const std::size_t element = net.config().precision == Precision::f64 ? 8 : 4;
  const std::size_t scaler_values = 2 * net.scaler().offset.size();
  if (net.n_params() + scaler_values > static_cast<std::size_t>(INT_MAX) / element)
    throw Error(ErrorKind::argument,
                "onnx export: " + std::to_string(net.n_params()) +
                    " parameters do not fit protobuf's 2 GiB limit for one ONNX file");
  const onnx::ModelProto model = network_to_model(net);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error(ErrorKind::internal, std::string("onnx export: ONNX's checker rejects the graph: ") +
                                         e.what());
  }
  const std::size_t size = model.ByteSizeLong();
  if (size > static_cast<std::size_t>(INT_MAX))
    throw Error(ErrorKind::argument,
                "onnx export: the model needs " + std::to_string(size) +
                    " bytes, over protobuf's 2 GiB limit for one ONNX file");
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw Error(ErrorKind::internal, "onnx export: protobuf could not serialize the model");
  return bytes;
}

}  // namespace bpnn
