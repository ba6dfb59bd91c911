#pragma once
// A data file named on the command line (train DATA, --val, eval, predict): which reader it takes,
// and training data read with the checks against --layers.
//
//   idx:IMAGES,LABELS   an IDX pair, plain or gzip (predict also takes idx:IMAGES alone)
//   fann:FILE           FANN's .data text format; so is any FILE ending in ".data"
//   csv:FILE            CSV whatever the name; so is anything else
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/output_paths.hpp"
#include "bpnn/types.hpp"

namespace bpnn::cli {

enum class DataFormat { csv, fann, idx };

struct DataSpec {
  DataFormat format = DataFormat::csv;
  std::string path;         // the CSV or FANN file; the IDX images
  std::string labels_path;  // the IDX labels; empty for idx:IMAGES alone
};

// Error(argument) for "idx:" without one or two files (two only unless images_alone), or an
// empty file name.
DataSpec data_spec_parse(const std::string& spec, bool images_alone = false);

// The files the spec reads, each named `role` (with " (labels)" for IDX labels), for
// output_paths_check_distinct.
std::vector<CommandFile> data_spec_files(const DataSpec& spec, const std::string& role);

struct DataReadOptions {
  std::optional<std::string> text_column = std::nullopt;  // CSV only: the label column kept as text
  Precision precision = Precision::f64;
  std::vector<std::string> label_names = {};  // IDX only: label value v is class label_names[v]
  std::optional<RowRange> rows = std::nullopt;
};

// The table of any format.
DataTable data_table_read(const DataSpec& spec, const DataReadOptions& options);

struct TrainingDataOptions {
  std::optional<std::string> label;  // --label (CSV only)
  std::vector<std::string> classes;  // --classes: CSV label order, or the IDX label names by value
  std::size_t inputs = 0, outputs = 0;  // the first and last of --layers
  bool autoencoder = false;             // --targets inputs
  Precision precision = Precision::f64;
  std::optional<RowRange> rows = std::nullopt;
  // The class set agreed with the other ranks of a data-parallel run (class_names_sorted of the
  // union of every rank's classes) when --classes does not fix it; empty: the table's own.
  std::vector<std::string> agreed_classes = {};
};

struct TrainingData {
  Dataset data;
  // Where the inputs sat in the file's rows, so predict and eval can read a header-less file of
  // the same layout (model_data.hpp): the row width and the inputs' positions.
  std::size_t data_columns = 0;
  std::vector<std::size_t> input_columns;
  std::optional<std::string> label;   // the label column the model keeps: --label, or "label" for IDX
  bool classes_by_label_value = false;  // IDX with --classes: label value v is data.classes[v]
};

// Reads training (or validation) data for a network of `inputs` → `outputs`: CSV with --label
// one-hot (in --classes order when given) or the last columns as targets; FANN with its header's
// outputs as targets; IDX with its labels one-hot ("0", "1", ... or --classes by label value);
// the inputs as targets for an autoencoder. Error(argument) for options that do not fit the
// format; Error(data) at the data's location when the widths do not match --layers.
TrainingData training_data_read(const std::string& spec, const TrainingDataOptions& options);

// training_data_read in two steps, for a data-parallel run that agrees on the class set between
// them: the table (options.rows of it), then the training data of that table.
DataTable training_table_read(const std::string& spec, const TrainingDataOptions& options);
TrainingData training_data_from_table(const DataTable& table, const std::string& spec,
                                      const TrainingDataOptions& options);

// Whether the table's classes come from its rows (a --label column or IDX labels, without
// --classes): then each rank of a data-parallel run sees only some of them.
bool training_classes_from_rows(const std::string& spec, const TrainingDataOptions& options);
// The distinct class names of the table's label column (its text column), in no fixed order.
std::vector<std::string> table_class_names(const DataTable& table);
// Class names in the order dataset_from_label gives them (numerically when all are numbers).
std::vector<std::string> class_names_sorted(const std::vector<std::string>& names);

// The model metadata that lets eval and predict read the same kind of file again: input_names,
// output_names, data_columns, input_columns, and label, classes, label_values, targets as they
// apply (README "Model files").
void training_data_describe(const TrainingData& training, bool autoencoder,
                            std::map<std::string, std::string>& metadata);

}  // namespace bpnn::cli
