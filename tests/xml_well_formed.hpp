#pragma once
// A structural check of the XML the CLI writes (SVG pictures): one root element, every tag
// closed in order, attributes name="value" without a raw '<', text and values with '&' only in
// the five predefined entities or a numeric one, no text outside the root. Returns "" when
// well-formed, else what is wrong and where. Not a validating parser: enough to catch broken
// escaping, an unclosed or misnested tag, a truncated file.
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace bpnn_test {

inline std::string xml_well_formed(std::string_view xml) {
  const auto where = [&](std::size_t i) { return " at byte " + std::to_string(i); };
  const auto entity_ok = [&](std::size_t i) {  // xml[i] == '&'
    const std::size_t semi = xml.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) return false;
    const std::string_view name = xml.substr(i + 1, semi - i - 1);
    if (name == "lt" || name == "gt" || name == "amp" || name == "quot" || name == "apos") return true;
    if (name.size() >= 2 && name[0] == '#') {
      for (std::size_t k = 1; k < name.size(); ++k)
        if (!std::isxdigit(static_cast<unsigned char>(name[k])) && !(k == 1 && name[k] == 'x')) return false;
      return true;
    }
    return false;
  };
  std::vector<std::string> open;
  bool root_seen = false;
  std::size_t i = 0;
  while (i < xml.size()) {
    if (xml[i] != '<') {
      if (xml[i] == '&' && !entity_ok(i)) return "a bare '&'" + where(i);
      if (xml[i] == '>') return "a bare '>' in text" + where(i);
      if (open.empty() && !std::isspace(static_cast<unsigned char>(xml[i]))) return "text outside the root" + where(i);
      ++i;
      continue;
    }
    if (xml.substr(i, 5) == "<?xml") {
      const std::size_t end = xml.find("?>", i);
      if (end == std::string_view::npos) return "an unterminated <?xml" + where(i);
      i = end + 2;
      continue;
    }
    const bool closing = i + 1 < xml.size() && xml[i + 1] == '/';
    std::size_t k = i + (closing ? 2 : 1);
    const std::size_t name_begin = k;
    while (k < xml.size() && (std::isalnum(static_cast<unsigned char>(xml[k])) || xml[k] == ':' || xml[k] == '-' || xml[k] == '_')) ++k;
    const std::string name(xml.substr(name_begin, k - name_begin));
    if (name.empty()) return "a tag without a name" + where(i);
    if (closing) {
      if (k >= xml.size() || xml[k] != '>') return "a malformed closing tag" + where(i);
      if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">") + where(i);
      open.pop_back();
      i = k + 1;
      continue;
    }
    if (open.empty() && root_seen) return "a second root element" + where(i);
    // attributes
    for (;;) {
      while (k < xml.size() && std::isspace(static_cast<unsigned char>(xml[k]))) ++k;
      if (k >= xml.size()) return "an unterminated <" + name + ">" + where(i);
      if (xml[k] == '>' || xml.substr(k, 2) == "/>") break;
      const std::size_t attr_begin = k;
      while (k < xml.size() && (std::isalnum(static_cast<unsigned char>(xml[k])) || xml[k] == ':' || xml[k] == '-' || xml[k] == '_')) ++k;
      if (k == attr_begin || k + 1 >= xml.size() || xml[k] != '=' || xml[k + 1] != '"')
        return "a malformed attribute in <" + name + ">" + where(k);
      const std::size_t value_end = xml.find('"', k + 2);
      if (value_end == std::string_view::npos) return "an unterminated attribute value" + where(k);
      for (std::size_t v = k + 2; v < value_end; ++v) {
        if (xml[v] == '<') return "a raw '<' in an attribute value" + where(v);
        if (xml[v] == '&' && !entity_ok(v)) return "a bare '&' in an attribute value" + where(v);
      }
      k = value_end + 1;
      if (k < xml.size() && !std::isspace(static_cast<unsigned char>(xml[k])) && xml[k] != '>' && xml[k] != '/')
        return "no space between attributes" + where(k);
    }
    root_seen = true;
    if (xml[k] == '>') {
      open.push_back(name);
      i = k + 1;
    } else {
      i = k + 2;  // "/>"
    }
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  if (!root_seen) return "no root element";
  return "";
}

}  // namespace bpnn_test
