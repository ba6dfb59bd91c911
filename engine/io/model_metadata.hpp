#pragma once
// The exact text forms of the values in a model file's __metadata__ (safetensors allows only
// strings there), and the keys the model format reserves. Every module that stores something in
// a model or checkpoint (scaler statistics, training state, class names, ...) writes and reads
// it through these functions, so each number and each list has one documented form:
//
//   numbers  "%.17g" of each double, joined by "," without spaces: "0.5,-1.25,3.0000000000000004".
//            Exact: each parses back (strtod, round to nearest) to the same double. Finite values
//            only; "" is the empty list.
//   counts   decimal unsigned integers joined by ",": "2,4,1". No sign, no leading zeros.
//   names    a JSON array of strings, as nlohmann::json dumps it: ["a","b \"c\""].
//
// Keys (README "Model files" lists them too):
//   format, format_version, sizes, hidden_act, output_act, loss, crc32: written by save_model;
//     a network's own metadata may not use them (model_format_key).
//   input_names, output_names, classes (names); label (plain text): the columns and classes a
//     model was trained on. load_model checks input_names/output_names that are JSON arrays: one
//     distinct input name per input, one output name per output.
//   keys beginning with "scaler." or "checkpoint." (numbers or counts, unless documented
//     otherwise where they are written): reserved for input scaling and training checkpoints.
//     scaler.kind ("standard" or "minmax"; absent for none), scaler.offset and scaler.factor
//     (numbers, one per input): Network::scaler(), written by save_model.
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bpnn {

using Metadata = std::map<std::string, std::string>;

// Whether save_model owns `key` (the network's metadata may not set it): the format's keys and
// every key beginning with "scaler." or "checkpoint.".
bool model_format_key(std::string_view key);

// numbers: "%.17g,..." (see above). Error(argument, "metadata KEY: value i is not finite") for
// NaN or ±∞.
std::string metadata_numbers_format(std::span<const double> values, std::string_view key);
// The inverse. Error(format, "SOURCE: metadata "KEY" = "...": what is wrong") for anything but
// finite numbers joined by single commas.
std::vector<double> metadata_numbers_parse(std::string_view text, const std::string& source, std::string_view key);

// counts: "2,4,1".
std::string metadata_counts_format(std::span<const std::size_t> values);
// The inverse; Error(format) as above. An empty text is the empty list.
std::vector<std::size_t> metadata_counts_parse(std::string_view text, const std::string& source, std::string_view key);

// names: a JSON array of strings. Error(argument) for a name that is not UTF-8 or holds a NUL.
std::string metadata_names_format(const std::vector<std::string>& names, std::string_view key);
// The inverse; Error(format) when the text is not a JSON array of strings (or one holds a NUL).
std::vector<std::string> metadata_names_parse(std::string_view text, const std::string& source, std::string_view key);

// Typed access to a metadata map: set replaces the key's value; get returns nullopt when the key
// is absent and throws Error(format) naming `source` when its value is not of the form.
void metadata_numbers_set(Metadata& m, const std::string& key, std::span<const double> values);
std::optional<std::vector<double>> metadata_numbers_get(const Metadata& m, const std::string& key,
                                                        const std::string& source);
std::optional<std::vector<std::size_t>> metadata_counts_get(const Metadata& m, const std::string& key,
                                                            const std::string& source);
void metadata_names_set(Metadata& m, const std::string& key, const std::vector<std::string>& names);
std::optional<std::vector<std::string>> metadata_names_get(const Metadata& m, const std::string& key,
                                                           const std::string& source);

}  // namespace bpnn
