// Owned communicator and its collectives; MPI errors become exceptions (MPI_ERRORS_RETURN).
#include "comm/communicator.hpp"

#include <utility>

#include "util/error.hpp"
#include "util/log.hpp"

namespace sgdsweep::comm {
namespace {

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("MPI ", what, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

}  // namespace

Communicator::Communicator(MPI_Comm parent) {
  check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Communicator::Communicator(MPI_Comm adopted, Adopt) : comm_(adopted) {
  if (comm_ != MPI_COMM_NULL) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
}

Communicator::Communicator(Communicator&& other) noexcept
    : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}

Communicator Communicator::split(int color, int key) const {
  MPI_Comm part = MPI_COMM_NULL;
  check(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &part), "MPI_Comm_split");
  return Communicator(part, Adopt{});
}

int Communicator::node_rank() const {
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  return Communicator(node, Adopt{}).rank();
}

void Communicator::broadcast(void* data, int bytes, int root) const {
  check(MPI_Bcast(data, bytes, MPI_BYTE, root, comm_), "MPI_Bcast");
}

Communicator::~Communicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) {
    if (MPI_Comm_free(&comm_) != MPI_SUCCESS) log::warn("MPI_Comm_free failed");
  }
}

void Communicator::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

bool Communicator::all_ok(bool ok) const {
  int local = ok ? 1 : 0;
  int global = 0;
  check(MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  return global == 1;
}

double Communicator::max(double value) const {
  double out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce");
  return out;
}

double Communicator::sum(double value) const {
  double out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_SUM, comm_), "MPI_Allreduce");
  return out;
}

long long Communicator::sum(long long value) const {
  long long out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_LONG_LONG, MPI_SUM, comm_), "MPI_Allreduce");
  return out;
}

}  // namespace sgdsweep::comm
