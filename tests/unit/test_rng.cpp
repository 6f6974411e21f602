// The counter-based RNG: Philox4x32-10 known answers, purity (same inputs, same bits) and the
// statistics of the derived draws.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data/batcher.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

using sgdsweep::CounterRng;
using sgdsweep::RngPurpose;

TEST(Rng, PhiloxKnownAnswers) {
  // Random123's kat_vectors for philox4x32_10.
  const auto zero = CounterRng::philox4x32_10({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(zero, (CounterRng::Block{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  const auto ones = CounterRng::philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                              {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(ones, (CounterRng::Block{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  const auto pi = CounterRng::philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                                            {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(pi, (CounterRng::Block{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Rng, DrawsArePureFunctionsOfSeedPurposeAndCounter) {
  const CounterRng a(42, RngPurpose::shuffle), b(42, RngPurpose::shuffle);
  const CounterRng other_seed(43, RngPurpose::shuffle), other_purpose(42, RngPurpose::init);
  for (std::uint64_t position : {0ull, 1ull, 1ull << 40}) {
    EXPECT_EQ(a.bits(7, position), b.bits(7, position));
    EXPECT_NE(a.bits(7, position), other_seed.bits(7, position));
    EXPECT_NE(a.bits(7, position), other_purpose.bits(7, position));
    EXPECT_NE(a.bits(7, position), a.bits(8, position));
  }
}

TEST(Rng, UniformAndNormalMoments) {
  const CounterRng rng(1, RngPurpose::test);
  const int n = 200000;
  double sum = 0, sum_squares = 0, normal_sum = 0, normal_squares = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform(0, i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_squares += u * u;
    const double z = rng.normal(1, i);
    ASSERT_TRUE(std::isfinite(z));
    normal_sum += z;
    normal_squares += z * z;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
  EXPECT_NEAR(sum_squares / n - 0.25, 1.0 / 12.0, 0.002);
  EXPECT_NEAR(normal_sum / n, 0.0, 0.01);
  EXPECT_NEAR(normal_squares / n, 1.0, 0.01);
}

TEST(Rng, BelowStaysInRangeAndCoversIt) {
  const CounterRng rng(5, RngPurpose::test);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t value = rng.below(7, 0, i);
    ASSERT_LT(value, 7u);
    seen.insert(value);
  }
  EXPECT_EQ(seen.size(), 7u);
}

TEST(Batcher, EpochPermutationIsAPermutationAndChangesWithEpochAndSeed) {
  const auto p0 = sgdsweep::data::epoch_permutation(9, 1000, 0);
  std::vector<std::int32_t> sorted = p0;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(p0, sgdsweep::data::epoch_permutation(9, 1000, 0));
  EXPECT_NE(p0, sgdsweep::data::epoch_permutation(9, 1000, 1));
  EXPECT_NE(p0, sgdsweep::data::epoch_permutation(10, 1000, 0));
}

TEST(Batcher, StepsCoverEachEpochWithoutReplacementAndDropTheRemainder) {
  sgdsweep::data::EpochSampler sampler(3, 103, 10);
  ASSERT_EQ(sampler.steps_per_epoch(), 10);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::set<std::int32_t> seen;
    for (int step = 0; step < 10; ++step) {
      const std::int32_t* batch = sampler.batch(epoch * 10 + step);
      seen.insert(batch, batch + 10);
    }
    EXPECT_EQ(seen.size(), 100u) << "epoch " << epoch;  // 100 distinct of 103: no repeats
    const auto permutation = sgdsweep::data::epoch_permutation(3, 103, epoch);
    EXPECT_EQ(seen, std::set<std::int32_t>(permutation.begin(), permutation.begin() + 100));
  }
  // Random access equals sequential access: a resumed trial sees the same batch.
  sgdsweep::data::EpochSampler fresh(3, 103, 10);
  const std::int32_t* late = fresh.batch(25);
  const auto permutation = sgdsweep::data::epoch_permutation(3, 103, 2);
  EXPECT_TRUE(std::equal(late, late + 10, permutation.begin() + 50));
}

TEST(Batcher, RejectsBatchesLargerThanTheData) {
  EXPECT_THROW(sgdsweep::data::EpochSampler(1, 10, 11), sgdsweep::Error);
  EXPECT_THROW(sgdsweep::data::EpochSampler(1, 10, 0), sgdsweep::Error);
}
