#pragma once
// A data file read for a trained model (predict, eval): CSV, FANN or IDX (data_source.hpp) in the
// model's precision, the label column as text when the model was trained with one, and the
// columns the model was trained on picked by name (or position).
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/network.hpp"

namespace bpnn::cli {

// A JSON list of names from the model's metadata (input_names, output_names, classes), or {}.
std::vector<std::string> model_names(const Network& net, const std::string& key,
                                     const std::string& model_path);

// The data `spec` names (data_source.hpp; idx:IMAGES alone only when images_alone), read for
// `net`: a CSV's label column as text when the file has it; IDX labels named by the model's
// classes when it was trained with --classes on IDX data (metadata label_values).
DataTable model_table_read(const Network& net, const std::string& spec, const std::string& model_path,
                           bool images_alone);

// The model's inputs from the table (by input_names, else the first columns).
Dataset model_inputs(const Network& net, const DataTable& table, const std::string& model_path);

// The model's inputs and targets: a --label model's label column one-hot in the model's class
// order; an autoencoder's (--targets inputs) scaled inputs; otherwise the columns named
// output_names, else the last columns.
Dataset model_labelled(const Network& net, const DataTable& table, const std::string& model_path);

}  // namespace bpnn::cli
