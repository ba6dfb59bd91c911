// Data files named on the command line; see data_source.hpp.
#include "bpnn/data_source.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "bpnn/error.hpp"
#include "io/model_metadata.hpp"

namespace bpnn::cli {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool ends_with(const std::string& s, const char* suffix) {
  const std::string t(suffix);
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

void check_named(const std::string& path, const std::string& spec) {
  if (path.empty())
    throw Error(ErrorKind::argument, "data " + nlohmann::json(spec).dump() + ": the file name is empty");
}

// "WHERE: ", the table as a whole, to begin a message.
std::string where_of(const DataTable& table) { return data_table_where(table) + ": "; }

}  // namespace

DataSpec data_spec_parse(const std::string& spec, bool images_alone) {
  DataSpec s;
  if (starts_with(spec, "idx:")) {
    s.format = DataFormat::idx;
    const std::string files = spec.substr(4);
    const auto comma = files.find(',');
    s.path = files.substr(0, comma);
    if (comma != std::string::npos) s.labels_path = files.substr(comma + 1);
    if (s.labels_path.find(',') != std::string::npos)
      throw Error(ErrorKind::argument, "data " + nlohmann::json(spec).dump() +
                                           ": expected idx:IMAGES,LABELS (two files, one comma)");
    if (comma == std::string::npos && !images_alone)
      throw Error(ErrorKind::argument, "data " + nlohmann::json(spec).dump() +
                                           ": expected idx:IMAGES,LABELS (this command needs the labels)");
    check_named(s.path, spec);
    if (comma != std::string::npos) check_named(s.labels_path, spec);
    return s;
  }
  if (starts_with(spec, "fann:")) {
    s.format = DataFormat::fann;
    s.path = spec.substr(5);
  } else if (starts_with(spec, "csv:")) {
    s.path = spec.substr(4);
  } else {
    s.format = ends_with(spec, ".data") ? DataFormat::fann : DataFormat::csv;
    s.path = spec;
  }
  check_named(s.path, spec);
  return s;
}

std::vector<CommandFile> data_spec_files(const DataSpec& spec, const std::string& role) {
  std::vector<CommandFile> files{{role, spec.path}};
  if (!spec.labels_path.empty()) files.push_back({role + " (labels)", spec.labels_path});
  return files;
}

DataTable data_table_read(const DataSpec& spec, const DataReadOptions& options) {
  switch (spec.format) {
    case DataFormat::csv:
      return read_csv(spec.path, CsvOptions{.text_column = options.text_column, .precision = options.precision,
                                            .rows = options.rows});
    case DataFormat::fann:
      return read_fann_data(spec.path, FannOptions{.precision = options.precision, .rows = options.rows});
    case DataFormat::idx:
      return read_idx(spec.path, spec.labels_path,
                      IdxOptions{.precision = options.precision, .rows = options.rows, .label_names = options.label_names});
  }
  throw Error(ErrorKind::internal, "data_table_read: unknown format");
}

TrainingData training_data_read(const std::string& spec_text, const TrainingDataOptions& o) {
  return training_data_from_table(training_table_read(spec_text, o), spec_text, o);
}

bool training_classes_from_rows(const std::string& spec_text, const TrainingDataOptions& o) {
  const DataSpec spec = data_spec_parse(spec_text, o.autoencoder);
  const bool idx_labels = spec.format == DataFormat::idx && !spec.labels_path.empty();
  return !o.autoencoder && o.classes.empty() && (o.label.has_value() || idx_labels);
}

std::vector<std::string> table_class_names(const DataTable& table) {
  std::vector<std::string> names(table.text.begin(), table.text.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> class_names_sorted(const std::vector<std::string>& names) {
  // a table of the names alone (one row each, beside a column of zeros) through dataset_from_label,
  // so the order is the readers' rule itself
  DataTable t;
  t.source = "the class names";
  t.has_header = true;
  t.columns = {"x", "label"};
  t.rows = names.size();
  t.cols = 2;
  t.text_column = 1;
  t.text = names;
  for (std::size_t r = 0; r < names.size(); ++r) {
    t.numbers.push_back(0.0);
    t.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
    t.row_origin.push_back(r + 2);
  }
  t.header_line = 1;
  t.file_rows = names.size();
  return dataset_from_label(t, "label").classes;
}

DataTable training_table_read(const std::string& spec_text, const TrainingDataOptions& o) {
  const DataSpec spec = data_spec_parse(spec_text, o.autoencoder);
  if (o.autoencoder && o.label) throw Error(ErrorKind::argument, "--targets inputs: not with --label");
  if (o.autoencoder && o.outputs != o.inputs)
    throw Error(ErrorKind::argument, "--targets inputs: --layers must end with as many outputs as it has inputs");
  if (spec.format != DataFormat::csv && o.label)
    throw Error(ErrorKind::argument, std::string("--label: for CSV data only (") +
                                         (spec.format == DataFormat::idx ? "the IDX labels file holds the classes"
                                                                         : "a FANN file's targets are its last numbers") +
                                         ")");
  const bool idx_labels = spec.format == DataFormat::idx && !spec.labels_path.empty();
  if (!o.classes.empty() && !o.label && !idx_labels)
    throw Error(ErrorKind::argument, "--classes: names the classes of a --label column (CSV) or of an IDX labels file");

  DataReadOptions read{.text_column = o.label, .precision = o.precision, .label_names = {}, .rows = o.rows};
  if (idx_labels && !o.autoencoder) read.label_names = o.classes;
  return data_table_read(spec, read);
}

TrainingData training_data_from_table(const DataTable& table, const std::string& spec_text,
                                      const TrainingDataOptions& o) {
  const DataSpec spec = data_spec_parse(spec_text, o.autoencoder);
  const bool idx_labels = spec.format == DataFormat::idx && !spec.labels_path.empty();
  const std::vector<std::string>& classes = o.classes.empty() ? o.agreed_classes : o.classes;
  TrainingData t;
  if (o.autoencoder) {  // the targets are the inputs (the caller scales them with the inputs)
    t.data = dataset_inputs(table, {}, o.inputs);
    t.data.y = t.data.x;
    t.data.outputs = t.data.inputs;
    t.data.output_names = t.data.input_names;
  } else if (o.label) {
    t.data = dataset_from_label(table, *o.label, classes);
    t.label = o.label;
  } else if (idx_labels) {
    t.data = dataset_from_label(table, "label", classes);
    t.label = "label";
    t.classes_by_label_value = !o.classes.empty();
  } else if (spec.format == DataFormat::idx) {
    throw Error(ErrorKind::argument, "data idx:" + spec.path +
                                         ": training needs the labels, idx:IMAGES,LABELS (or --targets inputs)");
  } else if (spec.format == DataFormat::fann) {
    if (table.target_cols == 0)
      throw Error(ErrorKind::data, where_of(table) + "the header's num_output is 0: no targets to train on "
                                                     "(or use --targets inputs)");
    t.data = dataset_from_targets(table, table.target_cols);
  } else {
    t.data = dataset_from_targets(table, o.outputs);
  }

  const Dataset& data = t.data;
  if (data.outputs != o.outputs) {
    const std::string what =
        t.label ? (spec.format == DataFormat::idx ? "the labels hold " : "--label " + *t.label + " has ") +
                      std::to_string(data.outputs) + " classes"
                : "the header's num_output is " + std::to_string(data.outputs);
    throw Error(ErrorKind::data, where_of(table) + what + ", but --layers ends with " + std::to_string(o.outputs) +
                                     " outputs");
  }
  if (data.inputs != o.inputs)
    throw Error(ErrorKind::data, where_of(table) + "the rows have " + std::to_string(table.cols) + " columns, so " +
                                     std::to_string(data.inputs) + " inputs and " + std::to_string(data.outputs) +
                                     " targets, but --layers starts with " + std::to_string(o.inputs) + " inputs");

  t.data_columns = table.cols;
  for (const std::string& name : data.input_names)
    t.input_columns.push_back(static_cast<std::size_t>(
        std::find(table.columns.begin(), table.columns.end(), name) - table.columns.begin()));
  return t;
}

void training_data_describe(const TrainingData& t, bool autoencoder, std::map<std::string, std::string>& m) {
  m["input_names"] = nlohmann::json(t.data.input_names).dump();
  m["data_columns"] = std::to_string(t.data_columns);
  m["input_columns"] = metadata_counts_format(t.input_columns);
  m["output_names"] = nlohmann::json(t.data.output_names).dump();
  if (autoencoder) m["targets"] = "inputs";  // eval then scores against the inputs
  if (t.label) {
    m["label"] = *t.label;
    m["classes"] = nlohmann::json(t.data.classes).dump();
  }
  if (t.classes_by_label_value) m["label_values"] = "class_index";
}

}  // namespace bpnn::cli
