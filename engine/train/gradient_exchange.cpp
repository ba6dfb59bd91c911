// The collective error flag of a distributed run; see gradient_exchange.hpp.
#include "train/gradient_exchange.hpp"

#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "bpnn/error.hpp"

namespace bpnn {

void exchange_agree(GradientExchange& exchange, const std::exception_ptr& failure) {
  const int first = exchange.first_rank_with(failure != nullptr);
  if (first < 0) return;
  int kind = static_cast<int>(ErrorKind::internal);
  std::string message;
  if (exchange.rank() == first) {
    try {
      std::rethrow_exception(failure);
    } catch (const Error& e) {
      kind = static_cast<int>(e.kind());
      message = e.what();
    } catch (const std::bad_alloc&) {
      message = "out of memory";
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
      message = "an unknown exception";
    }
  }
  exchange.broadcast(&kind, sizeof kind, first);
  std::uint64_t length = message.size();
  exchange.broadcast(&length, sizeof length, first);
  std::vector<char> text(static_cast<std::size_t>(length));
  if (exchange.rank() == first) message.copy(text.data(), text.size());
  if (!text.empty()) exchange.broadcast(text.data(), text.size(), first);
  throw Error(static_cast<ErrorKind>(kind), "rank " + std::to_string(first) + ": " + std::string(text.begin(), text.end()));
}

}  // namespace bpnn
