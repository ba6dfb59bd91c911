#pragma once
// A data file read for a trained model (predict, eval): its CSV in the model's precision, the
// label column as text when the model was trained with --label, and the columns the model was
// trained on picked by name (or position).
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/network.hpp"

namespace bpnn::cli {

// A JSON list of names from the model's metadata (input_names, output_names, classes), or {}.
std::vector<std::string> model_names(const Network& net, const std::string& key,
                                     const std::string& model_path);

// The file, read for `net`: the model's label column as text when the file has it.
CsvTable model_table_read(const Network& net, const std::string& data_path);

// The model's inputs from the table (by input_names, else the first columns).
Dataset model_inputs(const Network& net, const CsvTable& table, const std::string& model_path);

// The model's inputs and targets: a --label model's label column one-hot in the model's class
// order; an autoencoder's (--targets inputs) scaled inputs; otherwise the columns named
// output_names, else the last columns.
Dataset model_labelled(const Network& net, const CsvTable& table, const std::string& model_path);

}  // namespace bpnn::cli
