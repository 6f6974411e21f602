// The protocol's results as tables: Markdown and LaTeX shaped like the paper's Tables 1–7 (one
// table per section, a row per remaining configuration field), and one CSV for pipelines.
#pragma once

#include <string>
#include <vector>

#include "protocol.hpp"

namespace sgdsweep::analysis {

// Column captions.
struct TableLabels {
  std::string metric_name;  // e.g. "test squared error per image", "test accuracy (%)"
  std::string loss_name;    // e.g. "final cross-entropy"
  int best_k = 0, seeds = 0;  // "(best k of n)" in the value columns' captions
};

// The configuration fields; `sections` are the fields that split the results into tables, the
// others label the rows (the paper: one table per model/optimizer/budget, a row per batch size).
enum class Field { model, optimizer, budget, batch_size };
// Parses "model,optimizer,budget" (--sections) (any of model, optimizer, budget, batch_size); throws Error.
std::vector<Field> parse_fields(const std::string& list);
// The default sections: model, optimizer and budget — unless the results have several budgets and
// one batch size (an epoch-budget study, Fig 2): then model, optimizer and batch size.
std::vector<Field> default_sections(const std::vector<ConfigResult>& results);

// Per section: the test-optimal table (mean ± std of the best k, the optimal ε_eff and its error
// bar, the final training loss there) and the training-loss-optimal one (004 §7).
std::string markdown_tables(const std::vector<ConfigResult>& results, const TableLabels& labels,
                            const std::vector<Field>& sections);
// booktabs tabulars in the paper's style, test-optimal and training-loss-optimal per section.
std::string latex_tables(const std::vector<ConfigResult>& results, const TableLabels& labels,
                         const std::vector<Field>& sections);

// One header line and one row per configuration with both objectives:
// model,optimizer,budget_kind,budget,batch_size,complete, then for P in test, train:
// P_mean,P_std,P_k,P_n,P_optimal_effective_lr,P_optimal_log2_effective_lr,
// P_optimal_final_effective_lr,P_bar_log2_low,P_bar_log2_high,P_bar_log2_final_low,
// P_bar_log2_final_high,P_other_mean,P_optimum_at_edge,P_bar_at_edge
// (P_other_mean: the final training loss at the test optimum, the test metric at the training
// optimum). Doubles %.17g, missing values "nan", booleans true/false.
std::string csv_table(const std::vector<ConfigResult>& results);

}  // namespace sgdsweep::analysis
