/* A program that embeds an installed bpnn_mpi (find_package(bpnn) → bpnn::bpnn_mpi): trains one
   network data-parallel on MPI_COMM_WORLD through bpnn_mpi.h and checks that every rank ends with
   the same parameters. Run by run.sh under mpirun -np 2. */
#include <stdio.h>
#include <string.h>

#include <mpi.h>

#include <bpnn_mpi.h>

int main(int argc, char **argv) {
  static const size_t sizes[] = {2, 4, 1};
  const float x[] = {0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1};
  const float y[] = {0, 1, 1, 0, 0, 1, 1, 0};
  double w[8], b[4], w0[8], b0[4];
  char message[256] = "";
  int rank = 0, status = 1;
  bpnn_net *net = NULL;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  bpnn_net_config c;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 3;
  c.precision = BPNN_F32;
  c.init = BPNN_INIT_UNIFORM;
  c.init_scale = 1.0;
  c.seed = 3;
  bpnn_train_config t;
  bpnn_train_config_init(&t);
  t.learning_rate = 2.0;
  t.batch = 4;
  t.epochs = 200;
  if (bpnn_net_create(&c, &net) != BPNN_OK ||
      bpnn_mpi_net_train_f32(MPI_Comm_c2f(MPI_COMM_WORLD), net, &t, x, y, 8, NULL, message, sizeof message) !=
          BPNN_OK ||
      bpnn_net_get_layer_f64(net, 0, w, 8, b, 4) != BPNN_OK) {
    fprintf(stderr, "consumer_mpi: rank %d: %s\n", rank, message);
    goto done;
  }
  memcpy(w0, w, sizeof w);
  memcpy(b0, b, sizeof b);
  MPI_Bcast(w0, 8, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Bcast(b0, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (memcmp(w, w0, sizeof w) != 0 || memcmp(b, b0, sizeof b) != 0) {
    fprintf(stderr, "consumer_mpi: rank %d holds other parameters than rank 0\n", rank);
    goto done;
  }
  status = 0;
done:
  bpnn_net_free(net);
  MPI_Finalize();
  return status;
}
