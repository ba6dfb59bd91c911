// The gradient exchange on MPI; see mpi_exchange.hpp.
#include "mpi/mpi_exchange.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

// MPI counts are ints: larger messages go in pieces of at most this many bytes.
constexpr std::size_t mpi_max_message_bytes = std::size_t{1} << 30;

// Calls message(offset, count) for each piece of a message of `bytes` bytes: [offset, offset +
// count) with count at most mpi_max_message_bytes, one empty piece for an empty message.
template <class Message>
void for_each_piece(std::size_t bytes, Message&& message) {
  std::size_t offset = 0;
  do {
    const std::size_t count = std::min(bytes - offset, mpi_max_message_bytes);
    message(offset, static_cast<int>(count));
    offset += count;
  } while (offset < bytes);
}

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(ErrorKind::io, std::string(call) + ": " + std::string(text, static_cast<std::size_t>(length)));
}

// Times a message into the exchange's waiting time.
struct WaitTimer {
  explicit WaitTimer(double& total) : total_(total), start_(MPI_Wtime()) {}
  ~WaitTimer() { total_ += MPI_Wtime() - start_; }
  double& total_;
  double start_;
};

}  // namespace

MpiExchange::MpiExchange(MPI_Comm comm, std::size_t piece_bytes, std::size_t segment_bytes)
    : comm_(MPI_COMM_NULL), piece_bytes_(piece_bytes), segment_bytes_(segment_bytes) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw Error(ErrorKind::argument, "bpnn_mpi: MPI is not initialised");
  // A communicator of its own: the exchange's messages never match the application's on `comm`,
  // and an MPI error returns here (becoming an Error naming the call) instead of ending the job
  // through the application's error handler (MPI_ERRORS_ARE_FATAL by default).
  if (comm == MPI_COMM_NULL) throw Error(ErrorKind::argument, "bpnn_mpi: the communicator is MPI_COMM_NULL");
  const int duplicated = MPI_Comm_dup(comm, &comm_);
  if (duplicated != MPI_SUCCESS) comm_ = MPI_COMM_NULL;
  check(duplicated, "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  try {
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &ranks_), "MPI_Comm_size");
  } catch (...) {
    MPI_Comm_free(&comm_);
    throw;
  }
}

MpiExchange::~MpiExchange() {
  cancel_all();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiExchange::send(int to, int tag, const void* data, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  const char* p = static_cast<const char*>(data);
  for_each_piece(bytes, [&](std::size_t offset, int count) {
    check(MPI_Send(p + offset, count, MPI_BYTE, to, tag, comm_), "MPI_Send");
  });
}

void MpiExchange::receive(int from, int tag, void* data, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  char* p = static_cast<char*>(data);
  for_each_piece(bytes, [&](std::size_t offset, int count) {
    check(MPI_Recv(p + offset, count, MPI_BYTE, from, tag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
  });
}

void MpiExchange::send_receive(int peer, int tag, const void* out, void* in, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  const char* p = static_cast<const char*>(out);
  char* q = static_cast<char*>(in);
  for_each_piece(bytes, [&](std::size_t offset, int count) {
    check(MPI_Sendrecv(p + offset, count, MPI_BYTE, peer, tag, q + offset, count, MPI_BYTE, peer, tag, comm_,
                       MPI_STATUS_IGNORE),
          "MPI_Sendrecv");
  });
}

GradientExchange::Request MpiExchange::request_new() {
  if (free_requests_.empty()) {
    requests_.emplace_back();
    is_send_.push_back(false);
    return requests_.size() - 1;
  }
  const Request request = free_requests_.back();
  free_requests_.pop_back();
  return request;
}

void MpiExchange::request_free(Request request) {
  requests_[request].clear();
  free_requests_.push_back(request);
}

GradientExchange::Request MpiExchange::start(bool is_send, int peer, int tag, char* data, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  const Request request = request_new();
  is_send_[request] = is_send;
  std::vector<MPI_Request>& pieces = requests_[request];
  for_each_piece(bytes, [&](std::size_t offset, int count) {
    pieces.push_back(MPI_REQUEST_NULL);
    if (is_send)
      check(MPI_Isend(data + offset, count, MPI_BYTE, peer, tag, comm_, &pieces.back()), "MPI_Isend");
    else
      check(MPI_Irecv(data + offset, count, MPI_BYTE, peer, tag, comm_, &pieces.back()), "MPI_Irecv");
  });
  return request;
}

GradientExchange::Request MpiExchange::start_send(int to, int tag, const void* data, std::size_t bytes) {
  // MPI_Isend only reads the buffer
  return start(true, to, tag, const_cast<char*>(static_cast<const char*>(data)), bytes);
}

GradientExchange::Request MpiExchange::start_receive(int from, int tag, void* data, std::size_t bytes) {
  return start(false, from, tag, static_cast<char*>(data), bytes);
}

bool MpiExchange::test(Request request) {
  WaitTimer timer(wait_seconds_);
  std::vector<MPI_Request>& pieces = requests_.at(request);
  int done = 0;
  check(MPI_Testall(static_cast<int>(pieces.size()), pieces.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
  if (done) request_free(request);
  return done != 0;
}

void MpiExchange::wait(Request request) {
  WaitTimer timer(wait_seconds_);
  std::vector<MPI_Request>& pieces = requests_.at(request);
  check(MPI_Waitall(static_cast<int>(pieces.size()), pieces.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  request_free(request);
}

void MpiExchange::cancel_all() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;  // MPI has ended every request
  for (Request request = 0; request < requests_.size(); ++request) {
    std::vector<MPI_Request>& pieces = requests_[request];
    if (pieces.empty()) continue;  // spent (or free)
    for (MPI_Request& piece : pieces) {
      if (piece == MPI_REQUEST_NULL) continue;  // completed by an earlier MPI_Testall
      MPI_Cancel(&piece);
      if (!is_send_[request]) {
        MPI_Wait(&piece, MPI_STATUS_IGNORE);
        continue;
      }
      int done = 0;
      MPI_Test(&piece, &done, MPI_STATUS_IGNORE);
      if (!done) MPI_Request_free(&piece);
    }
    request_free(request);
  }
}

void MpiExchange::progress() {
  WaitTimer timer(wait_seconds_);
  int flag = 0;
  check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
}

void MpiExchange::broadcast(void* data, std::size_t bytes, int root) {
  WaitTimer timer(wait_seconds_);
  char* p = static_cast<char*>(data);
  for_each_piece(bytes, [&](std::size_t offset, int count) {
    check(MPI_Bcast(p + offset, count, MPI_BYTE, root, comm_), "MPI_Bcast");
  });
}

void MpiExchange::all_gather(const void* mine, std::size_t bytes, void* all) {
  WaitTimer timer(wait_seconds_);
  if (bytes > mpi_max_message_bytes) throw Error(ErrorKind::internal, "bpnn_mpi: all_gather of more than 1 GiB");
  check(MPI_Allgather(mine, static_cast<int>(bytes), MPI_BYTE, all, static_cast<int>(bytes), MPI_BYTE, comm_),
        "MPI_Allgather");
}

int MpiExchange::first_rank_with(bool flag) {
  WaitTimer timer(wait_seconds_);
  int mine = flag ? rank_ : INT_MAX, first = INT_MAX;
  check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  return first == INT_MAX ? -1 : first;
}

int MpiExchange::broadcast_int(int value, int root) {
  broadcast(&value, sizeof value, root);
  return value;
}

}  // namespace bpnn
