// Gradient reducers: the identity, and MPI recursive doubling in the accumulator's tree order.
#include "comm/gradient_reducer.hpp"

#include <cstring>

#include "util/error.hpp"

namespace sgdsweep::comm {
namespace {

void check(int code, const char* what) {
  if (code != MPI_SUCCESS) fail("MPI ", what, " failed in the team gradient reduction");
}

class IdentityReducer final : public GradientReducer {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(float*, std::int64_t) override {}
  void gather(const double* mine, std::int64_t count, double* all) override {
    std::memcpy(all, mine, static_cast<std::size_t>(count) * sizeof(double));
  }
};

class MpiTreeReducer final : public GradientReducer {
 public:
  explicit MpiTreeReducer(const Communicator& team) : team_(team) {
    if ((team.size() & (team.size() - 1)) != 0) {
      fail("a team of ", team.size(), " ranks: team sizes must be powers of two");
    }
  }
  int rank() const override { return team_.rank(); }
  int size() const override { return team_.size(); }

  void sum(float* values, std::int64_t count) override {
    partner_.resize(static_cast<std::size_t>(count));
    constexpr std::int64_t kChunk = std::int64_t{1} << 28;  // MPI counts are int
    for (int level = 1; level < team_.size(); level <<= 1) {
      const int partner = team_.rank() ^ level;
      for (std::int64_t first = 0; first < count; first += kChunk) {
        const int n = static_cast<int>(std::min(kChunk, count - first));
        check(MPI_Sendrecv(values + first, n, MPI_FLOAT, partner, level, partner_.data() + first, n,
                           MPI_FLOAT, partner, level, team_.get(), MPI_STATUS_IGNORE),
              "MPI_Sendrecv");
      }
      // Float addition commutes: both partners compute the same bits.
      for (std::int64_t i = 0; i < count; ++i) values[i] += partner_[i];
    }
  }

  void gather(const double* mine, std::int64_t count, double* all) override {
    check(MPI_Allgather(mine, static_cast<int>(count), MPI_DOUBLE, all, static_cast<int>(count),
                        MPI_DOUBLE, team_.get()),
          "MPI_Allgather");
  }

 private:
  const Communicator& team_;
  std::vector<float> partner_;
};

}  // namespace

std::unique_ptr<GradientReducer> make_identity_reducer() { return std::make_unique<IdentityReducer>(); }

GradientReducer& identity_reducer() {
  static IdentityReducer identity;
  return identity;
}

std::unique_ptr<GradientReducer> make_mpi_reducer(const Communicator& team) {
  return std::make_unique<MpiTreeReducer>(team);
}

}  // namespace sgdsweep::comm
