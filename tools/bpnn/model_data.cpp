// A data file read for a trained model; see model_data.hpp.
#include "bpnn/model_data.hpp"

#include <algorithm>

#include "bpnn/data_source.hpp"
#include "bpnn/error.hpp"
#include "data/message_quote.hpp"
#include "io/model_metadata.hpp"

namespace bpnn::cli {

std::vector<std::string> model_names(const Network& net, const std::string& key,
                                     const std::string& model_path) {
  return metadata_names_get(net.metadata(), key, model_path).value_or(std::vector<std::string>{});
}

DataTable model_table_read(const Network& net, const std::string& spec_text, const std::string& model_path,
                           bool images_alone) {
  const DataSpec spec = data_spec_parse(spec_text, images_alone);
  DataReadOptions read{.text_column = std::nullopt, .precision = net.config().precision, .label_names = {}, .rows = std::nullopt};
  const auto coding = net.metadata().find("label_values");
  if (coding != net.metadata().end() && coding->second == "class_index")
    read.label_names = model_names(net, "classes", model_path);
  if (spec.format != DataFormat::csv) return data_table_read(spec, read);
  const auto label = net.metadata().find("label");
  if (label != net.metadata().end()) read.text_column = label->second;
  try {
    return data_table_read(spec, read);
  } catch (const Error& e) {
    // A file without the label column is fine for prediction: read it all as numbers.
    if (!read.text_column || e.kind() != ErrorKind::data) throw;
    read.text_column.reset();
    return data_table_read(spec, read);
  }
}

Dataset model_inputs(const Network& net, const DataTable& table, const std::string& model_path) {
  const std::vector<std::string> input_names = model_names(net, "input_names", model_path);
  // A model's names describe its inputs: a different count is a corrupt model, not a bad call.
  if (!input_names.empty() && input_names.size() != net.n_inputs())
    throw Error(ErrorKind::format, model_path + ": metadata 'input_names' lists " +
                                       std::to_string(input_names.size()) +
                                       " names, but the network has " +
                                       std::to_string(net.n_inputs()) + " inputs");
  const std::string where = data_table_where(table) + ": ";
  if (table.has_header && !input_names.empty()) {
    // By name, all of them: never silently the first columns instead.
    std::vector<std::string> missing;
    for (const std::string& name : input_names)
      if (std::find(table.columns.begin(), table.columns.end(), name) == table.columns.end())
        missing.push_back(name);
    if (!missing.empty())
      throw Error(ErrorKind::data, where + "the header lacks " + std::to_string(missing.size()) + " of the " +
                                       std::to_string(input_names.size()) + " input columns the model was trained on: " +
                                       message_list(missing));
    return dataset_inputs(table, input_names, net.n_inputs());
  }
  // By position: a file of exactly the inputs, or one laid out as the training file was.
  if (table.cols == net.n_inputs()) return dataset_inputs(table, {}, net.n_inputs());
  const auto width = metadata_counts_get(net.metadata(), "data_columns", model_path);
  const auto columns = metadata_counts_get(net.metadata(), "input_columns", model_path);
  if (width && width->size() == 1 && columns && columns->size() == net.n_inputs() && table.cols == (*width)[0]) {
    for (std::size_t c : *columns)
      if (c >= table.cols) throw Error(ErrorKind::format, model_path + ": metadata 'input_columns' is out of range");
    return dataset_columns(table, *columns);
  }
  throw Error(ErrorKind::data,
              where + "the rows have " + std::to_string(table.cols) + " columns, but the model takes " +
                  std::to_string(net.n_inputs()) + " inputs" +
                  (width && width->size() == 1 ? " (its training file had " + std::to_string((*width)[0]) + " columns)" : "") +
                  (table.has_header ? "" : " and the file has no header to find them by name"));
}

Dataset model_labelled(const Network& net, const DataTable& table, const std::string& model_path) {
  Dataset data = model_inputs(net, table, model_path);
  const auto targets_kind = net.metadata().find("targets");
  if (targets_kind != net.metadata().end() && targets_kind->second == "inputs") {
    // An autoencoder (train --targets inputs): the targets are the inputs, scaled as the model
    // saw them.
    if (net.n_outputs() != net.n_inputs())
      throw Error(ErrorKind::format, model_path + ": metadata 'targets' is 'inputs' but the network has " +
                                         std::to_string(net.n_inputs()) + " inputs and " +
                                         std::to_string(net.n_outputs()) + " outputs");
    data.y = data.x;
    scaler_apply(net.scaler(), data.y.data(), data.n, net.n_inputs());
    data.outputs = data.inputs;
    data.output_names = data.input_names;
    return data;
  }
  const auto label = net.metadata().find("label");
  if (label != net.metadata().end()) {
    if (!table.text_column)
      throw Error(ErrorKind::data, data_table_where(table) + ": no column " + message_quote(label->second) +
                                       " with the class labels the model was trained on" +
                                       (table.format == TableFormat::idx ? " (name the labels: idx:IMAGES,LABELS)" : ""));
    const std::vector<std::string> classes = model_names(net, "classes", model_path);
    Dataset labelled = dataset_from_label(table, label->second, classes);
    if (labelled.outputs != net.n_outputs())
      throw Error(ErrorKind::format, model_path + ": the model has " + std::to_string(net.n_outputs()) +
                                         " outputs but " + std::to_string(labelled.outputs) + " classes");
    data.y = std::move(labelled.y);
    data.outputs = labelled.outputs;
    data.output_names = std::move(labelled.output_names);
    data.classes = std::move(labelled.classes);
    return data;
  }
  Dataset targets = dataset_targets(table, model_names(net, "output_names", model_path), net.n_outputs());
  data.y = std::move(targets.y);
  data.outputs = targets.outputs;
  data.output_names = std::move(targets.output_names);
  return data;
}

}  // namespace bpnn::cli
