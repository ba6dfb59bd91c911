// One printable line per message; see message_line.hpp.
#include "bpnn/message_line.hpp"

#include "data/message_quote.hpp"

namespace bpnn::cli {

std::string message_one_line(std::string_view text, std::size_t max_bytes) {
  // The engine's escaping (data/message_quote.hpp), keeping quotes and backslashes: messages
  // already quote their values, so this only makes raw bytes printable.
  std::string line = message_path(text);
  if (line.size() <= max_bytes) return line;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0u) == 0x80u) --cut;  // whole characters
  line.resize(cut);
  return line + "… (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace bpnn::cli
