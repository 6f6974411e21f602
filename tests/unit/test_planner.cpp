// The planner (src/sweep/planner.*) and the parameter counts it uses (src/spec/model_size.*):
// counts against the real models, team sizes, the layout's invariants on random sweeps and rank
// counts, makespan bounds, the paper's Figure 1 sweep on 4,096 ranks, and calibration.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "nn/models/autoencoder.hpp"
#include "nn/models/lstm_lm.hpp"
#include "nn/models/wide_resnet.hpp"
#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "spec/model_size.hpp"
#include "spec/spec.hpp"
#include "sweep/planner.hpp"
#include "test_support.hpp"

namespace sgdsweep {
namespace {

using spec::ModelKind;

// ---- parameter counts --------------------------------------------------------------------------

spec::Spec wrn_spec(std::int64_t depth, std::int64_t width, bool batch_norm, const std::string& dataset) {
  spec::Spec s;
  s.model = ModelKind::wide_resnet;
  s.depth = depth;
  s.width = width;
  s.batch_norm = batch_norm;
  s.dataset = dataset;
  return s;
}

TEST(ModelSize, AutoencoderMatchesTheModel) {
  auto backend = ops::make_backend("host");
  nn::Autoencoder model(*backend, 1, nn::AutoencoderInit::glorot, 7);
  spec::Spec s;  // the default model is the autoencoder
  EXPECT_EQ(spec::parameter_count(s), model.parameters().size());
  EXPECT_EQ(spec::parameter_count(s), 2837314);
}

TEST(ModelSize, WideResNetsMatchTheModels) {
  auto backend = ops::make_backend("host");
  for (const auto& [depth, width] : std::vector<std::pair<int, int>>{{10, 1}, {16, 2}, {10, 3}}) {
    for (bool batch_norm : {true, false}) {
      for (std::int64_t classes : {10, 100}) {
        SCOPED_TRACE(concat("wrn-", depth, "-", width, batch_norm ? " ghost-bn" : " skipinit", ", ", classes,
                            " classes"));
        nn::WideResNetConfig config;
        config.depth = depth;
        config.width = width;
        config.batch_norm = batch_norm;
        config.classes = classes;
        nn::WideResNet model(*backend, 1, config, 3);
        const spec::Spec s = wrn_spec(depth, width, batch_norm, classes == 10 ? "cifar10" : "cifar100");
        EXPECT_EQ(spec::parameter_count(s), model.parameters().size());          // from the dataset
        EXPECT_EQ(spec::parameter_count(s, classes), model.parameters().size());  // given
      }
    }
  }
  // The paper's network, and the worked example in model_size.hpp.
  nn::WideResNet paper(*backend, 1, nn::WideResNetConfig{}, 3);
  EXPECT_EQ(spec::parameter_count(wrn_spec(16, 4, true, "cifar10")), paper.parameters().size());
  EXPECT_EQ(paper.parameters().size(), 2752506);
}

TEST(ModelSize, LstmLanguageModelsMatchTheModels) {
  auto backend = ops::make_backend("host");
  for (const auto& [layers, hidden, vocabulary] :
       std::vector<std::tuple<int, int, int>>{{2, 8, 50}, {1, 16, 100}, {3, 5, 37}}) {
    SCOPED_TRACE(concat(layers, " × ", hidden, ", vocabulary ", vocabulary));
    nn::LstmLanguageModelConfig config;
    config.layers = layers;
    config.hidden = hidden;
    config.vocabulary = vocabulary;
    config.window = 3;
    nn::LstmLanguageModel model(*backend, 2, 2, 2, config, 5);
    spec::Spec s;
    s.model = ModelKind::lstm;
    s.dataset = "ptb";
    s.layers = layers;
    s.hidden = hidden;
    EXPECT_EQ(spec::parameter_count(s, vocabulary), model.parameters().size());
  }
  spec::Spec paper;
  paper.model = ModelKind::lstm;
  paper.dataset = "ptb";
  paper.layers = 2;
  paper.hidden = 650;  // Zaremba et al.'s medium model on PTB's 10,000 words: 19.8 M
  EXPECT_EQ(spec::parameter_count(paper), 10000 * 650 * 2 + 10000 + 2 * (8 * 650 * 650 + 4 * 650));
}

// ---- team sizes and the cost model -------------------------------------------------------------

spec::Trial make_trial(std::int64_t index, std::int64_t batch_size, std::int64_t microbatch, std::int64_t steps,
                       std::int32_t evaluations = 2) {
  spec::Trial t;
  t.index = index;
  t.batch_size = batch_size;
  t.microbatch = microbatch;
  t.steps = steps;
  t.evaluations = evaluations;
  return t;
}

TEST(Planner, AllowedTeamSizesArePowersOfTwoDividingTheMicrobatchCount) {
  using V = std::vector<int>;
  EXPECT_EQ(sweep::allowed_team_sizes(make_trial(0, 8192, 64, 1), 4096), (V{1, 2, 4, 8, 16, 32, 64, 128}));
  EXPECT_EQ(sweep::allowed_team_sizes(make_trial(0, 8192, 64, 1), 20), (V{1, 2, 4, 8, 16}));
  EXPECT_EQ(sweep::allowed_team_sizes(make_trial(0, 192, 64, 1), 64), (V{1}));     // 3 microbatches
  EXPECT_EQ(sweep::allowed_team_sizes(make_trial(0, 384, 64, 1), 64), (V{1, 2}));  // 6
  EXPECT_EQ(sweep::allowed_team_sizes(make_trial(0, 100, 64, 1), 64), (V{1, 2}));  // 64 + 36 rows
  EXPECT_EQ(sweep::allowed_team_sizes(make_trial(0, 64, 64, 1), 64), (V{1}));
  EXPECT_EQ(sweep::allowed_team_sizes(make_trial(0, 512, 32, 1), 1), (V{1}));
}

TEST(Planner, TrialSecondsFollowTheFormula) {
  spec::Spec s;  // autoencoder
  const spec::DataShape data{1000, 500};
  sweep::CostModel cost{1e9, 0.01, 1e8, 1e-4, "test"};
  const double fpe = spec::flops_per_example(s);
  const std::int64_t parameters = 1000;
  const spec::Trial alone = make_trial(0, 256, 256, 10, 2);
  const double evaluation = 3.0 * 1500 * fpe / 3 / 1e9;
  EXPECT_DOUBLE_EQ(cost.trial_seconds(s, alone, data, parameters, 1), 10 * (256 * fpe / 1e9 + 0.01) + evaluation);
  const spec::Trial split = make_trial(0, 256, 64, 10, 2);
  const double reduce = 2 * (1e-4 + 4.0 * parameters / 1e8);  // log2(4) stages
  EXPECT_DOUBLE_EQ(cost.trial_seconds(s, split, data, parameters, 4), 10 * (64 * fpe / 1e9 + 0.01 + reduce) + evaluation);
  cost.team_evaluates = true;
  EXPECT_DOUBLE_EQ(cost.trial_seconds(s, split, data, parameters, 4),
                   10 * (64 * fpe / 1e9 + 0.01 + reduce) + evaluation / 4);
  // B = 100 in microbatches of 64: on 2 ranks the leader holds 64 rows, not ⌈100/2⌉ = 50.
  cost.team_evaluates = false;
  EXPECT_DOUBLE_EQ(cost.trial_seconds(s, make_trial(0, 100, 64, 10, 2), data, parameters, 2),
                   10 * (64 * fpe / 1e9 + 0.01 + 1e-4 + 4.0 * parameters / 1e8) + evaluation);
  EXPECT_NE(sweep::default_cost_model("host").source.find("measured"), std::string::npos);
  EXPECT_NE(sweep::default_cost_model("cuda").source.find("assumed, not measured"), std::string::npos);
  testing::expect_error([] { sweep::default_cost_model("tpu"); }, {"tpu", "host", "cuda"});
}

TEST(Planner, CalibrationRecoversAKnownRate) {
  // The model thinks 6e10; the machine does 4.2e10. Compute-only trials (no overheads).
  spec::Spec s;
  const spec::DataShape data{60000, 10000};
  sweep::CostModel model{6e10, 0, 1e9, 0, "guess"};
  std::vector<std::pair<double, double>> pairs;
  std::mt19937_64 random(11);
  for (int i = 0; i < 40; ++i) {
    const spec::Trial trial = make_trial(i, 16 << (i % 8), 16 << (i % 8), 50 + 37 * i, i % 5);
    const double predicted = model.trial_seconds(s, trial, data, 1000, 1);
    pairs.emplace_back(predicted, predicted * 6e10 / 4.2e10);
  }
  pairs.emplace_back(0.0, 3.0);  // skipped: nothing predicted
  const sweep::CostModel exact = sweep::calibrated(model, pairs);
  EXPECT_NEAR(exact.flops_per_second, 4.2e10, 4.2e10 * 1e-12);
  EXPECT_NE(exact.source.find("calibrated on 40 measured trials"), std::string::npos) << exact.source;
  EXPECT_EQ(exact.step_overhead_seconds, model.step_overhead_seconds);
  // ±10% multiplicative noise, symmetric: within 2%.
  std::uniform_real_distribution<double> noise(0.9, 1.1);
  for (auto& pair : pairs) pair.second *= noise(random);
  EXPECT_NEAR(sweep::calibrated(model, pairs).flops_per_second, 4.2e10, 4.2e10 * 0.02);
  testing::expect_error([&] { sweep::calibrated(model, {}); }, {"no trial"});
}

// ---- the layout's invariants --------------------------------------------------------------------

// Rows on a team's leader, as the planner counts them (for the limit).
std::int64_t leader_rows(const spec::Trial& t, int g) {
  const std::int64_t microbatches = (t.batch_size + t.microbatch - 1) / t.microbatch;
  return std::min(t.batch_size, microbatches / g * t.microbatch);
}

// Plain list scheduling, O(trials × teams): each trial to the lowest-numbered team free first.
double naive_list_schedule(const std::vector<double>& seconds, int teams) {
  std::vector<double> free_at(static_cast<std::size_t>(teams), 0.0);
  double makespan = 0;
  for (double s : seconds) {
    auto team = std::min_element(free_at.begin(), free_at.end());
    *team += s;
    makespan = std::max(makespan, *team);
  }
  return makespan;
}

void check_plan(const sweep::Plan& plan, const spec::Spec& s, const std::vector<spec::Trial>& trials,
                const std::vector<std::int64_t>& to_run, int ranks, bool simulate = true) {
  ASSERT_EQ(plan.ranks, ranks);
  ASSERT_EQ(plan.team_size.size(), trials.size());
  ASSERT_EQ(plan.trial_seconds.size(), trials.size());
  const std::set<std::int64_t> running(to_run.begin(), to_run.end());
  std::vector<int> listed(trials.size(), 0);
  int next_rank = 0;
  double makespan = 0;
  for (const sweep::TeamClass& cls : plan.classes) {
    EXPECT_GE(cls.team_size, 1);
    EXPECT_EQ(cls.team_size & (cls.team_size - 1), 0) << "team size " << cls.team_size;
    EXPECT_GE(cls.teams, 1);
    EXPECT_FALSE(cls.trials.empty());
    EXPECT_LE(cls.teams, static_cast<int>(cls.trials.size()));
    EXPECT_EQ(cls.first_rank, next_rank);  // consecutive, disjoint
    EXPECT_EQ(cls.first_rank % cls.team_size, 0);
    next_rank += cls.teams * cls.team_size;
    std::vector<double> seconds;
    for (std::size_t i = 0; i < cls.trials.size(); ++i) {
      const std::int64_t t = cls.trials[i];
      ASSERT_GE(t, 0);
      ASSERT_LT(t, static_cast<std::int64_t>(trials.size()));
      ++listed[static_cast<std::size_t>(t)];
      // The trial's split: the class's team size, or fewer members of it (padded).
      const int split = plan.team_size[static_cast<std::size_t>(t)];
      EXPECT_LE(split, cls.team_size);
      const auto allowed = sweep::allowed_team_sizes(trials[static_cast<std::size_t>(t)], ranks);
      EXPECT_NE(std::find(allowed.begin(), allowed.end(), split), allowed.end());
      if (split < cls.team_size) {  // padded only when it cannot split that far
        EXPECT_EQ(std::find(allowed.begin(), allowed.end(), cls.team_size), allowed.end());
      }
      if (s.max_examples_per_rank > 0) {
        EXPECT_LE(leader_rows(trials[static_cast<std::size_t>(t)], split), s.max_examples_per_rank);
      }
      seconds.push_back(plan.trial_seconds[static_cast<std::size_t>(t)]);
      if (i > 0) {  // longest first, ties by index
        const double before = plan.trial_seconds[static_cast<std::size_t>(cls.trials[i - 1])];
        EXPECT_TRUE(before > seconds.back() || (before == seconds.back() && cls.trials[i - 1] < t));
      }
    }
    if (simulate) {
      EXPECT_NEAR(naive_list_schedule(seconds, cls.teams), cls.predicted_seconds, 1e-9 * cls.predicted_seconds);
    }
    makespan = std::max(makespan, cls.predicted_seconds);
  }
  EXPECT_LE(next_rank, ranks);
  EXPECT_EQ(plan.idle_ranks, ranks - next_rank);
  for (std::size_t t = 0; t < trials.size(); ++t) {
    const bool run = running.count(static_cast<std::int64_t>(t)) > 0;
    EXPECT_EQ(listed[t], run ? 1 : 0) << "trial " << t;
    if (!run) {
      EXPECT_EQ(plan.team_size[t], 0);
    }
  }
  // Placement: every non-idle rank in exactly one team, members 0 … g−1 once each.
  std::map<std::pair<int, int>, std::vector<int>> members;
  int idle = 0;
  for (int r = 0; r < ranks; ++r) {
    const sweep::Plan::Placement p = plan.placement(r);
    if (p.class_index < 0) {
      EXPECT_GE(r, ranks - plan.idle_ranks);
      ++idle;
      continue;
    }
    ASSERT_LT(p.class_index, static_cast<int>(plan.classes.size()));
    const sweep::TeamClass& cls = plan.classes[static_cast<std::size_t>(p.class_index)];
    EXPECT_GE(r, cls.first_rank);
    EXPECT_GE(p.team, 0);
    EXPECT_LT(p.team, cls.teams);
    members[{p.class_index, p.team}].push_back(p.member);
  }
  EXPECT_EQ(idle, plan.idle_ranks);
  for (auto& [team, list] : members) {
    std::vector<int> expected(static_cast<std::size_t>(plan.classes[static_cast<std::size_t>(team.first)].team_size));
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(list, expected);
  }
  // Bounds.
  EXPECT_DOUBLE_EQ(plan.makespan_seconds, makespan);
  EXPECT_LE(plan.any_layout_lower_bound_seconds, plan.lower_bound_seconds * (1 + 1e-12));
  EXPECT_LE(plan.lower_bound_seconds, plan.makespan_seconds * (1 + 1e-12));
  EXPECT_LE(plan.efficiency, 1 + 1e-12);
}

// A random sweep: B, microbatch and steps drawn, a per-rank limit every other time.
struct Synthetic {
  spec::Spec spec;
  std::vector<spec::Trial> trials;
  std::vector<std::int64_t> to_run;
};

Synthetic random_sweep(std::mt19937_64& random, int count, int ranks) {
  Synthetic sweep;
  sweep.spec.balance_teams = random() % 4 != 0;
  sweep.spec.max_examples_per_rank = random() % 2 ? 0 : 16 << (random() % 6);
  const std::int64_t microbatches[] = {8, 16, 32, 64, 100};
  for (int i = 0; static_cast<int>(sweep.trials.size()) < count; ++i) {
    const std::int64_t microbatch = microbatches[random() % 5];
    const std::int64_t batch = std::max<std::int64_t>(1, static_cast<std::int64_t>(random() % 5 == 0
                                                                                       ? 1 + random() % 3000
                                                                                       : microbatch << (random() % 9)));
    spec::Trial t = make_trial(static_cast<std::int64_t>(sweep.trials.size()), batch, std::min(batch, microbatch),
                               1 + static_cast<std::int64_t>(random() % 5000), static_cast<std::int32_t>(random() % 6));
    // Keep trials that some team of at most `ranks` can run within the limit.
    bool feasible = sweep.spec.max_examples_per_rank == 0;
    for (int g : sweep::allowed_team_sizes(t, ranks)) feasible = feasible || leader_rows(t, g) <= sweep.spec.max_examples_per_rank;
    if (feasible) sweep.trials.push_back(t);
  }
  for (std::int64_t t = 0; t < count; ++t) {
    if (random() % 8 != 0) sweep.to_run.push_back(t);  // some already finished
  }
  std::shuffle(sweep.to_run.begin(), sweep.to_run.end(), random);
  return sweep;
}

TEST(Planner, RandomSweepsOnRandomRankCountsGiveConsistentLayouts) {
  std::mt19937_64 random(2020);
  const spec::DataShape data{5000, 1000};
  int planned = 0, refused = 0;
  for (int round = 0; round < 200; ++round) {
    const int ranks = 1 + static_cast<int>(random() % 200);
    const int count = 1 + static_cast<int>(random() % 400);
    const Synthetic sweep = random_sweep(random, count, ranks);
    sweep::CostModel cost = sweep::default_cost_model("host");
    cost.team_evaluates = random() % 2;
    const std::int64_t parameters = 1000 + static_cast<std::int64_t>(random() % 3000000);
    SCOPED_TRACE(concat("round ", round, ": ", ranks, " ranks, ", sweep.to_run.size(), " trials, limit ",
                        sweep.spec.max_examples_per_rank, sweep.spec.balance_teams ? ", balanced" : ""));
    try {
      const sweep::Plan plan = sweep::make_plan(sweep.spec, sweep.trials, sweep.to_run, ranks, data, parameters, cost);
      check_plan(plan, sweep.spec, sweep.trials, sweep.to_run, ranks);
      if (ranks == 1 && !sweep.to_run.empty()) {  // one rank: everything in sequence, nothing lost
        EXPECT_NEAR(plan.makespan_seconds, plan.total_rank_seconds, 1e-9 * plan.total_rank_seconds);
        EXPECT_NEAR(plan.efficiency, 1.0, 1e-12);
      }
      ++planned;
    } catch (const Error& e) {
      // Only possible refusal here: a limit no allowed team of at most `ranks` ranks can meet.
      EXPECT_GT(sweep.spec.max_examples_per_rank, 0);
      EXPECT_NE(std::string(e.what()).find("max_examples_per_rank"), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_GE(planned, 100) << refused << " refused";
}

TEST(Planner, ManyTrialsPerRankStayWithinTenPercentOfTheBound) {
  std::mt19937_64 random(7);
  const spec::DataShape data{50000, 10000};
  for (int ranks : {1, 2, 3, 7, 16, 33, 64, 100}) {
    // With the limit, B = 512 needs teams of 2 and B = 1024 teams of 4: 7 ranks at least.
    for (std::int64_t limit : {0, 256}) {
      if (limit > 0 && ranks < 7) continue;
      spec::Spec s;
      s.max_examples_per_rank = limit;
      std::vector<spec::Trial> trials;
      for (int i = 0; i < 3000; ++i) {
        trials.push_back(make_trial(i, 32 << (random() % 6), 32, 100 + static_cast<std::int64_t>(random() % 2000),
                                    static_cast<std::int32_t>(random() % 4)));
      }
      std::vector<std::int64_t> to_run(trials.size());
      std::iota(to_run.begin(), to_run.end(), 0);
      const sweep::Plan plan = sweep::make_plan(s, trials, to_run, ranks, data, 2837314, sweep::default_cost_model("host"));
      SCOPED_TRACE(concat(ranks, " ranks, limit ", limit));
      check_plan(plan, s, trials, to_run, ranks, ranks <= 16);
      EXPECT_LE(plan.makespan_seconds, 1.1 * plan.lower_bound_seconds);
      EXPECT_LE(plan.makespan_seconds, 1.1 * plan.any_layout_lower_bound_seconds);
    }
  }
}

TEST(Planner, RefusesTeamSizesThatCannotBeMet) {
  spec::Spec s;
  s.source_path = "limits.toml";
  const spec::DataShape data{50000, 10000};
  const sweep::CostModel cost = sweep::default_cost_model("host");
  const auto plan = [&](std::vector<spec::Trial> trials, int ranks) {
    std::vector<std::int64_t> to_run(trials.size());
    std::iota(to_run.begin(), to_run.end(), 0);
    return sweep::make_plan(s, trials, to_run, ranks, data, 1000, cost);
  };
  // A rank holds at least one microbatch of 64: a limit of 32 cannot be met.
  s.max_examples_per_rank = 32;
  testing::expect_error([&] { plan({make_trial(0, 256, 64, 10)}, 64); },
                        {"limits.toml", "batch size 256", "microbatch 64", "max_examples_per_rank = 32"});
  // 3 microbatches: teams of 1 only, so 192 rows on a rank.
  s.max_examples_per_rank = 64;
  testing::expect_error([&] { plan({make_trial(0, 192, 64, 10)}, 64); }, {"batch size 192", "at least 192"});
  // B = 8192 at 64 per rank needs 128 ranks.
  testing::expect_error([&] { plan({make_trial(0, 8192, 64, 10)}, 100); },
                        {"batch size 8192", "team of 128 ranks", "100 ranks"});
  // Teams of 1 (B = 64, one microbatch) and 2 (B = 128, limit 64) at once would need 3 ranks: on
  // 2, one class of teams of 2, where the B = 64 trial runs padded on member 0.
  const sweep::Plan padded = plan({make_trial(0, 64, 64, 10), make_trial(1, 128, 64, 10)}, 2);
  ASSERT_EQ(padded.classes.size(), 1u);
  EXPECT_EQ(padded.classes[0].team_size, 2);
  EXPECT_EQ(padded.classes[0].trials.size(), 2u);
  EXPECT_EQ(padded.team_size, (std::vector<int>{1, 2}));
  // ... unless the small class can move up: B = 128 (4 microbatches of 32) meets a limit of 128
  // alone but may also use a team of 2, where B = 256 must run: one class, one team of 2.
  s.max_examples_per_rank = 128;
  const sweep::Plan merged = plan({make_trial(0, 128, 32, 10), make_trial(1, 256, 32, 10)}, 2);
  ASSERT_EQ(merged.classes.size(), 1u);
  EXPECT_EQ(merged.classes[0].team_size, 2);
  EXPECT_EQ(merged.team_size, (std::vector<int>{2, 2}));
  // Bad input.
  testing::expect_error([&] { plan({make_trial(0, 64, 64, 10)}, 0); }, {"0 ranks"});
  testing::expect_error(
      [&] { sweep::make_plan(s, {make_trial(0, 64, 64, 10)}, {0, 0}, 4, data, 1000, cost); }, {"listed twice"});
  testing::expect_error(
      [&] { sweep::make_plan(s, {make_trial(0, 64, 64, 10)}, {3}, 4, data, 1000, cost); }, {"trial 3"});
}

// ---- the paper's Figure 1 sweep -------------------------------------------------------------------

struct PaperSweep {
  spec::Spec spec;
  spec::DataShape data{50000, 10000};
  std::vector<spec::Trial> trials;
  std::vector<std::int64_t> all;
};

PaperSweep figure1(std::int32_t seeds = 0) {
  PaperSweep sweep;
  sweep.spec = spec::load_spec(std::string(SGDSWEEP_SOURCE_DIR) + "/input/paper/fig1-wrn16-4-bn.toml");
  if (seeds > 0) sweep.spec.seeds = seeds;
  sweep.trials = spec::expand_grid(sweep.spec, sweep.data);
  sweep.all.resize(sweep.trials.size());
  std::iota(sweep.all.begin(), sweep.all.end(), 0);
  return sweep;
}

TEST(Planner, Figure1On4096RanksIsWithinTenPercentWhenTeamsEvaluateTogether) {
  const PaperSweep fig1 = figure1();
  ASSERT_EQ(fig1.trials.size(), 4200u);
  const std::int64_t parameters = spec::parameter_count(fig1.spec);
  sweep::CostModel cost = sweep::default_cost_model("host");
  cost.team_evaluates = true;
  const sweep::Plan plan = sweep::make_plan(fig1.spec, fig1.trials, fig1.all, 4096, fig1.data, parameters, cost);
  check_plan(plan, fig1.spec, fig1.trials, fig1.all, 4096);
  EXPECT_GE(plan.efficiency, 0.90) << sweep::plan_report(plan, fig1.spec, fig1.trials);
  EXPECT_GE(plan.any_layout_lower_bound_seconds / plan.makespan_seconds, 0.90);
  for (std::size_t t = 0; t < fig1.trials.size(); ++t) {
    if (fig1.trials[t].batch_size <= 64) {
      EXPECT_EQ(plan.team_size[t], 1);  // one ghost batch: one rank
    }
  }
  // Deterministic: the same inputs, the same plan.
  const sweep::Plan again = sweep::make_plan(fig1.spec, fig1.trials, fig1.all, 4096, fig1.data, parameters, cost);
  EXPECT_EQ(again.team_size, plan.team_size);
  ASSERT_EQ(again.classes.size(), plan.classes.size());
  for (std::size_t c = 0; c < plan.classes.size(); ++c) EXPECT_EQ(again.classes[c].trials, plan.classes[c].trials);
}

TEST(Planner, Figure1On4096RanksWithLeaderOnlyEvaluation) {
  // 4,200 trials of about the same rank-time T on 4,096 ranks. When only the leader evaluates
  // (4% of a trial), a team of g fits k trials in k·(T/g + E): below about 1.4 T no team size
  // packs more than one trial per rank, so about 73% of the bound is the most any layout gets.
  const PaperSweep fig1 = figure1();
  const sweep::Plan plan = sweep::make_plan(fig1.spec, fig1.trials, fig1.all, 4096, fig1.data,
                                            spec::parameter_count(fig1.spec), sweep::default_cost_model("host"));
  check_plan(plan, fig1.spec, fig1.trials, fig1.all, 4096);
  EXPECT_GE(plan.any_layout_lower_bound_seconds / plan.makespan_seconds, 0.72);
  // Without balancing every trial runs alone and 104 ranks run two: about half.
  PaperSweep alone = fig1;
  alone.spec.balance_teams = false;
  const sweep::Plan unbalanced = sweep::make_plan(alone.spec, alone.trials, alone.all, 4096, alone.data,
                                                  spec::parameter_count(alone.spec), sweep::default_cost_model("host"));
  check_plan(unbalanced, alone.spec, alone.trials, alone.all, 4096);
  EXPECT_EQ(unbalanced.classes.size(), 1u);
  EXPECT_LT(unbalanced.efficiency, 0.55);
  EXPECT_GT(plan.efficiency, unbalanced.efficiency + 0.2);
}

TEST(Planner, Figure1OnOneRankRunsEverythingInSequence) {
  const PaperSweep fig1 = figure1();
  const sweep::Plan plan = sweep::make_plan(fig1.spec, fig1.trials, fig1.all, 1, fig1.data,
                                            spec::parameter_count(fig1.spec), sweep::default_cost_model("host"));
  ASSERT_EQ(plan.classes.size(), 1u);
  EXPECT_EQ(plan.classes[0].teams, 1);
  EXPECT_EQ(plan.classes[0].trials.size(), 4200u);
  EXPECT_NEAR(plan.makespan_seconds, plan.total_rank_seconds, 1e-9 * plan.total_rank_seconds);
  EXPECT_DOUBLE_EQ(plan.efficiency, 1.0);
}

TEST(Planner, HundredThousandRanksAndFiftyThousandTrials) {
  // Figure 1 with 180 seeds (50,400 trials) on 100,000 ranks: plans quickly (not timed here).
  const PaperSweep big = figure1(180);
  ASSERT_EQ(big.trials.size(), 50400u);
  sweep::CostModel cost = sweep::default_cost_model("host");
  for (bool team_evaluates : {false, true}) {
    cost.team_evaluates = team_evaluates;
    const sweep::Plan plan = sweep::make_plan(big.spec, big.trials, big.all, 100000, big.data,
                                              spec::parameter_count(big.spec), cost);
    check_plan(plan, big.spec, big.trials, big.all, 100000, false);
    EXPECT_GT(plan.efficiency, 0.5);
  }
}

TEST(Planner, ReportSaysWhatWillHappen) {
  const PaperSweep fig1 = figure1();
  const sweep::Plan plan = sweep::make_plan(fig1.spec, fig1.trials, fig1.all, 4096, fig1.data,
                                            spec::parameter_count(fig1.spec), sweep::default_cost_model("host"));
  const std::string report = sweep::plan_report(plan, fig1.spec, fig1.trials);
  for (const char* fragment : {"4,200 to run (of 4,200 in the grid)", "4,096 ranks", "core-hours", "team size",
                               "makespan", "efficiency", "idle ranks", "days", "measured"}) {
    EXPECT_NE(report.find(fragment), std::string::npos) << "report lacks '" << fragment << "':\n" << report;
  }
  PaperSweep gpu = fig1;
  gpu.spec.device = "cuda";
  const sweep::Plan on_gpus = sweep::make_plan(gpu.spec, gpu.trials, {0, 1, 2}, 8, gpu.data,
                                               spec::parameter_count(gpu.spec), sweep::default_cost_model("cuda"));
  const std::string gpu_report = sweep::plan_report(on_gpus, gpu.spec, gpu.trials);
  EXPECT_NE(gpu_report.find("GPU-hours"), std::string::npos) << gpu_report;
  EXPECT_NE(gpu_report.find("3 to run (of 4,200 in the grid)"), std::string::npos) << gpu_report;
  EXPECT_NE(gpu_report.find("assumed, not measured"), std::string::npos) << gpu_report;
}

// Packs ([parallel] pack): the one-rank class lists each shape's trials together, a trial's time is
// its time in a full pack (P × compute, the step overhead once), the makespan schedules teams × P
// lanes; where steps are overhead-bound (a GPU's launches) packing shortens the sweep.
TEST(Planner, PacksGroupTrialsByShapeAndShareTheStepOverhead) {
  spec::Spec s;  // autoencoder
  const spec::DataShape data{1000, 500};
  sweep::CostModel cost{1e13, 0.01, 1e8, 1e-4, "test"};
  cost.packs_share_overhead = true;  // a GPU's launches
  std::vector<spec::Trial> trials;
  std::vector<std::int64_t> all;
  std::mt19937 random(7);
  for (std::int64_t i = 0; i < 60; ++i) {
    const std::int64_t batch = random() % 2 ? 16 : 64;
    trials.push_back(make_trial(i, batch, batch, 20 + static_cast<std::int64_t>(random() % 200)));
    trials.back().momentum = random() % 2 ? 0.9 : 0.0;
    all.push_back(i);
  }
  const sweep::Plan alone = sweep::make_plan(s, trials, all, 3, data, 1000, cost);
  s.pack = 4;
  const sweep::Plan packed = sweep::make_plan(s, trials, all, 3, data, 1000, cost);
  EXPECT_EQ(packed.pack, 4);
  EXPECT_EQ(packed.pack_shapes, 4);  // B ∈ {16, 64} × momentum ∈ {0, 0.9}
  ASSERT_EQ(packed.classes.size(), 1u);
  std::vector<std::int64_t> listed = packed.classes[0].trials;
  std::vector<const spec::Trial*> shapes_done;  // each shape's trials in one run
  for (std::size_t k = 0; k < listed.size(); ++k) {
    const spec::Trial& trial = trials[listed[k]];
    if (k > 0 && spec::packs_with(trials[listed[k - 1]], trial)) continue;
    for (const spec::Trial* done : shapes_done) EXPECT_FALSE(spec::packs_with(*done, trial)) << "shape split at " << k;
    shapes_done.push_back(&trial);
  }
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, all);
  for (std::int64_t t : all) {
    EXPECT_NEAR(packed.trial_seconds[t], 4 * alone.trial_seconds[t] - 3 * trials[t].steps * 0.01,
                1e-12 * packed.trial_seconds[t]);
  }
  EXPECT_LT(packed.makespan_seconds, 0.5 * alone.makespan_seconds);
  EXPECT_LE(packed.lower_bound_seconds, packed.makespan_seconds * (1 + 1e-12));
  const std::string report = sweep::plan_report(packed, s, trials);
  EXPECT_NE(report.find("up to 4 trials per rank trained together"), std::string::npos) << report;
  // Where the overhead is per trial (the host), a pack of P takes P times as long: no gain.
  cost.packs_share_overhead = false;
  const sweep::Plan host = sweep::make_plan(s, trials, all, 3, data, 1000, cost);
  for (std::int64_t t : all) EXPECT_NEAR(host.trial_seconds[t], 4 * alone.trial_seconds[t], 1e-12 * host.trial_seconds[t]);
  EXPECT_GT(host.makespan_seconds, 0.9 * alone.makespan_seconds);
}

}  // namespace
}  // namespace sgdsweep
