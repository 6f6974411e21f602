// An owned MPI communicator (duplicated on construction, freed on destruction) and the few
// collectives the sweep needs. Communicators are passed in; nothing below cli/ and sweep/ names
// MPI_COMM_WORLD.
#pragma once

#include <mpi.h>

#include <string>

namespace sgdsweep::comm {

class Communicator {
 public:
  // Duplicates `parent` (collective over it), so our traffic never mixes with anyone else's.
  explicit Communicator(MPI_Comm parent);
  // Collective: the ranks with the same `color` form a new communicator, ordered by `key`
  // (MPI_Comm_split); a negative color gives MPI_COMM_NULL (an empty Communicator).
  Communicator split(int color, int key) const;
  // Collective: this rank's index among the ranks that share its node's memory
  // (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED), whatever the launcher.
  int node_rank() const;
  Communicator(Communicator&& other) noexcept;
  bool empty() const { return comm_ == MPI_COMM_NULL; }
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

  void barrier() const;
  // True on every rank iff `ok` is true on every rank (collective).
  bool all_ok(bool ok) const;
  double max(double value) const;
  double sum(double value) const;
  long long sum(long long value) const;
  // Rank `root`'s values on every rank (MPI_Bcast).
  void broadcast(void* data, int bytes, int root) const;

 private:
  struct Adopt {};
  Communicator(MPI_Comm adopted, Adopt);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace sgdsweep::comm
