// The gradient exchange on MPI; see mpi_exchange.hpp.
#include "mpi/mpi_exchange.hpp"

#include <climits>
#include <string>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

// MPI counts are ints: larger messages go in pieces of at most this many bytes.
constexpr std::size_t piece_bytes = std::size_t{1} << 30;

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
    : comm_(comm), piece_bytes_(piece_bytes), segment_bytes_(segment_bytes) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw Error(ErrorKind::argument, "bpnn_mpi: MPI is not initialised");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &ranks_), "MPI_Comm_size");
}

void MpiExchange::send(int to, int tag, const void* data, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  const char* p = static_cast<const char*>(data);
  do {
    const std::size_t n = bytes < piece_bytes ? bytes : piece_bytes;
    check(MPI_Send(p, static_cast<int>(n), MPI_BYTE, to, tag, comm_), "MPI_Send");
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

void MpiExchange::receive(int from, int tag, void* data, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  char* p = static_cast<char*>(data);
  do {
    const std::size_t n = bytes < piece_bytes ? bytes : piece_bytes;
    check(MPI_Recv(p, static_cast<int>(n), MPI_BYTE, from, tag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

void MpiExchange::send_receive(int peer, int tag, const void* out, void* in, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  const char* p = static_cast<const char*>(out);
  char* q = static_cast<char*>(in);
  do {
    const std::size_t n = bytes < piece_bytes ? bytes : piece_bytes;
    check(MPI_Sendrecv(p, static_cast<int>(n), MPI_BYTE, peer, tag, q, static_cast<int>(n), MPI_BYTE, peer, tag,
                       comm_, MPI_STATUS_IGNORE),
          "MPI_Sendrecv");
    p += n;
    q += n;
    bytes -= n;
  } while (bytes > 0);
}

GradientExchange::Request MpiExchange::request_new() {
  if (free_requests_.empty()) {
    requests_.emplace_back();
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

GradientExchange::Request MpiExchange::start_send(int to, int tag, const void* data, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  const Request request = request_new();
  std::vector<MPI_Request>& pieces = requests_[request];
  const char* p = static_cast<const char*>(data);
  do {
    const std::size_t n = bytes < piece_bytes ? bytes : piece_bytes;
    pieces.push_back(MPI_REQUEST_NULL);
    check(MPI_Isend(p, static_cast<int>(n), MPI_BYTE, to, tag, comm_, &pieces.back()), "MPI_Isend");
    p += n;
    bytes -= n;
  } while (bytes > 0);
  return request;
}

GradientExchange::Request MpiExchange::start_receive(int from, int tag, void* data, std::size_t bytes) {
  WaitTimer timer(wait_seconds_);
  const Request request = request_new();
  std::vector<MPI_Request>& pieces = requests_[request];
  char* p = static_cast<char*>(data);
  do {
    const std::size_t n = bytes < piece_bytes ? bytes : piece_bytes;
    pieces.push_back(MPI_REQUEST_NULL);
    check(MPI_Irecv(p, static_cast<int>(n), MPI_BYTE, from, tag, comm_, &pieces.back()), "MPI_Irecv");
    p += n;
    bytes -= n;
  } while (bytes > 0);
  return request;
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

void MpiExchange::progress() {
  WaitTimer timer(wait_seconds_);
  int flag = 0;
  check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
}

void MpiExchange::broadcast(void* data, std::size_t bytes, int root) {
  WaitTimer timer(wait_seconds_);
  char* p = static_cast<char*>(data);
  do {
    const std::size_t n = bytes < piece_bytes ? bytes : piece_bytes;
    check(MPI_Bcast(p, static_cast<int>(n), MPI_BYTE, root, comm_), "MPI_Bcast");
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

void MpiExchange::all_gather(const void* mine, std::size_t bytes, void* all) {
  WaitTimer timer(wait_seconds_);
  if (bytes > piece_bytes) throw Error(ErrorKind::internal, "bpnn_mpi: all_gather of more than 1 GiB");
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
