#pragma once
// The gradient exchange (train/gradient_exchange.hpp) on an MPI communicator: point-to-point
// messages, a broadcast, an all-gather and the collective error flag. bpnn_mpi only: libbpnn
// never links libmpi. The caller initialises MPI; the exchange works on a duplicate of the
// communicator (MPI_Comm_dup, collective: every rank makes its exchange together), so its
// messages never match the application's, with MPI_ERRORS_RETURN, so that an MPI error is an
// Error(io) naming the call, and frees it when destroyed.
#include <mpi.h>

#include <cstddef>
#include <vector>

#include "train/gradient_exchange.hpp"

namespace bpnn {

class MpiExchange final : public GradientExchange {
 public:
  // piece_bytes, segment_bytes: the reduction's message sizes (reduce_piece_bytes,
  // reduce_segment_bytes); tests make them small to drive small networks through the pipeline.
  explicit MpiExchange(MPI_Comm comm, std::size_t piece_bytes = exchange_piece_bytes,
                       std::size_t segment_bytes = exchange_segment_bytes);
  // Cancels and completes the requests not yet spent (cancel_all): none writes into freed memory.
  ~MpiExchange() override;
  MpiExchange(const MpiExchange&) = delete;
  MpiExchange& operator=(const MpiExchange&) = delete;
  int rank() const override { return rank_; }
  std::size_t reduce_piece_bytes() const override { return piece_bytes_; }
  std::size_t reduce_segment_bytes() const override { return segment_bytes_; }
  int ranks() const override { return ranks_; }
  void send(int to, int tag, const void* data, std::size_t bytes) override;
  void receive(int from, int tag, void* data, std::size_t bytes) override;
  void send_receive(int peer, int tag, const void* out, void* in, std::size_t bytes) override;
  // MPI_Isend / MPI_Irecv in pieces of at most 1 GiB, MPI_Testall / MPI_Waitall over them;
  // progress() is an MPI_Iprobe, which runs Open MPI's progress engine.
  Request start_send(int to, int tag, const void* data, std::size_t bytes) override;
  Request start_receive(int from, int tag, void* data, std::size_t bytes) override;
  bool test(Request request) override;
  void wait(Request request) override;
  void progress() override;
  // MPI_Cancel on each piece, then MPI_Wait on a receive (a cancelled receive completes at once,
  // a matched one when its data is in) and MPI_Test on a send, which is left to complete in the
  // background (MPI_Request_free) when it cannot be cancelled: waiting for a peer that stopped
  // receiving would hang the failing rank. Errors are ignored: it runs on the way out of one.
  void cancel_all() override;
  void broadcast(void* data, std::size_t bytes, int root) override;
  void all_gather(const void* mine, std::size_t bytes, void* all) override;
  int first_rank_with(bool flag) override;
  // Collective: the value of rank `root` on every rank.
  int broadcast_int(int value, int root);

  // Seconds spent in this exchange's messages since it was made (its share of a step's time).
  double wait_seconds() const override { return wait_seconds_; }
  MPI_Comm comm() const { return comm_; }  // the duplicate

 private:
  MPI_Comm comm_;
  int rank_ = 0, ranks_ = 1;
  std::size_t piece_bytes_, segment_bytes_;
  double wait_seconds_ = 0;
  // per live request: the MPI requests of its pieces; the free entries, for reuse
  std::vector<std::vector<MPI_Request>> requests_;
  std::vector<Request> free_requests_;
  Request request_new();
  void request_free(Request request);
  // Starts one non-blocking message of `bytes` at `data` (a send, else a receive) as a request, in
  // pieces of at most mpi_max_message_bytes.
  Request start(bool is_send, int peer, int tag, char* data, std::size_t bytes);
  std::vector<bool> is_send_;  // per request: a send
};

}  // namespace bpnn
