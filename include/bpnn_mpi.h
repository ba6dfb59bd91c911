/* bpnn_mpi: data-parallel training of a bpnn network on an MPI communicator (C API).
 *
 * Link bpnn_mpi (CMake target bpnn_mpi; it brings libbpnn and libmpi). libbpnn itself never
 * links MPI: programs that do not train across processes need neither this header nor libmpi.
 *
 * The caller initialises MPI and passes its communicator as a Fortran handle (MPI_Comm_c2f), so
 * an application that already runs MPI trains on its own communicator. Every rank of the
 * communicator calls the function together, with the same network (same config and weights), the
 * same config and the same data; each rank uses only the rows of its blocks of that data and
 * computes the gradients of its shards of every step (README "Training on many machines (MPI)"),
 * and every rank ends with the same trained network, bit for bit the same for any number of
 * ranks and threads per rank. config->val_split holds out the rows bpnn_net_train_f32/_f64 hold
 * out (the stratified split of the whole data), but the sample order is per block, not the
 * single-process shuffle, and the gradients are summed per shard, so the result differs from
 * theirs.
 *
 * Only rank 0 writes config->checkpoint, but every rank gives the same config: the ranks compare
 * their networks (sizes, activations, loss, precision, scaler, initial weights) and every field
 * of the config that shapes the result, whether a checkpoint is given included, before the first
 * step, and a difference is BPNN_ERR_ARG on every rank, naming the rank and the field.
 * config->on_epoch is called on every rank that gives one; rank 0's answer decides for all (a
 * rank may give none). A failure on one rank (data, I/O, out of memory) reaches every rank:
 * every rank returns the status of the lowest failing rank, and `message` (when not NULL) gets
 * up to message_size - 1 bytes of its text, naming the rank ("rank 2: ..."), NUL-terminated.
 * Statuses, the report and the other fields are those of bpnn_net_train_f32/_f64 (bpnn.h).
 */
#ifndef BPNN_MPI_H
#define BPNN_MPI_H

#include <mpi.h>

#include "bpnn.h"

#ifdef __cplusplus
extern "C" {
#endif

bpnn_status bpnn_mpi_net_train_f32(MPI_Fint comm, bpnn_net *net, const bpnn_train_config *config,
                                   const float *x, const float *y, size_t n,
                                   bpnn_train_report *report, char *message, size_t message_size);
bpnn_status bpnn_mpi_net_train_f64(MPI_Fint comm, bpnn_net *net, const bpnn_train_config *config,
                                   const double *x, const double *y, size_t n,
                                   bpnn_train_report *report, char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif /* BPNN_MPI_H */
