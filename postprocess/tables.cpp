// The protocol's results as Markdown, LaTeX and CSV tables.
#include "tables.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "util/error.hpp"

namespace sgdsweep::analysis {

namespace {

constexpr Field all_fields[] = {Field::model, Field::optimizer, Field::budget, Field::batch_size};

const char* field_name(Field field) {
  switch (field) {
    case Field::model: return "model";
    case Field::optimizer: return "optimizer";
    case Field::budget: return "budget";
    case Field::batch_size: return "batch_size";
  }
  return "?";
}

const char* field_caption(Field field) {
  switch (field) {
    case Field::model: return "model";
    case Field::optimizer: return "optimizer";
    case Field::budget: return "budget";
    case Field::batch_size: return "B";
  }
  return "?";
}

std::string field_value(const ConfigKey& config, Field field) {
  switch (field) {
    case Field::model: return config.model;
    case Field::optimizer: return config.optimizer;
    case Field::budget: return config.budget;
    case Field::batch_size: return std::to_string(config.batch_size);
  }
  return "";
}

bool contains(const std::vector<Field>& fields, Field field) {
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}

// The fields that label rows: those not used for sections, in the canonical order.
std::vector<Field> row_fields(const std::vector<Field>& sections) {
  std::vector<Field> rows;
  for (Field field : all_fields) {
    if (!contains(sections, field)) rows.push_back(field);
  }
  return rows;
}

// Results split into sections (in ConfigKey order of their first member), each keeping the
// results' order.
std::vector<std::vector<const ConfigResult*>> split(const std::vector<ConfigResult>& results,
                                                    const std::vector<Field>& sections) {
  std::vector<std::vector<const ConfigResult*>> groups;
  std::vector<std::vector<std::string>> keys;
  for (const ConfigResult& result : results) {
    std::vector<std::string> key;
    for (Field field : sections) key.push_back(field_value(result.config, field));
    const auto found = std::find(keys.begin(), keys.end(), key);
    if (found == keys.end()) {
      keys.push_back(key);
      groups.push_back({&result});
    } else {
      groups[found - keys.begin()].push_back(&result);
    }
  }
  return groups;
}

std::string section_title(const ConfigKey& config, const std::vector<Field>& sections) {
  std::string title;
  for (Field field : sections) {
    if (!title.empty()) title += " · ";
    title += field == Field::batch_size ? concat("B = ", config.batch_size) : field_value(config, field);
  }
  return title.empty() ? "all configurations" : title;
}

// How the two formats spell the pieces of a cell.
struct Style {
  std::string (*power)(const std::string& exponent);  // 2^e
  std::string plus_minus, range, arrow, edge, rate_caption, bar_caption;
  std::string (*escape)(const std::string& text);
};

std::string markdown_power(const std::string& exponent) { return "2^" + exponent; }
std::string latex_power(const std::string& exponent) { return "$2^{" + exponent + "}$"; }
std::string no_escape(const std::string& text) { return text; }
std::string latex_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '&' || c == '_' || c == '#' || c == '$') out += '\\';
    out += c;
  }
  return out;
}

const Style markdown_style{markdown_power, " ± ", " … ", " → ", " (edge)",
                           "optimal ε_eff", "error bar (1σ)", no_escape};
const Style latex_style{latex_power, " $\\pm$ ", "--", " $\\to$ ", "$^\\dagger$", "optimal $\\epsilon_\\mathrm{eff}$",
                        "error bar ($1\\sigma$)", latex_escape};

std::string exponent(double log2_rate) {
  const double rounded = std::round(log2_rate);
  return rounded == log2_rate ? concat(static_cast<long long>(rounded)) : format_significant(log2_rate, 3);
}

// "2^-3" or, for a decoupled pair, "2^-1 → 2^-6".
std::string rate_cell(double log2_initial, double log2_final, const Style& style) {
  std::string cell = style.power(exponent(log2_initial));
  if (!std::isnan(log2_final)) cell += style.arrow + style.power(exponent(log2_final));
  return cell;
}

std::string range_cell(double low, double high, const Style& style) {
  return low == high ? style.power(exponent(low))
                     : style.power(exponent(low)) + style.range + style.power(exponent(high));
}

// The error bar: "2^-4 … 2^-2", for pairs "2^-4 … 2^-2 → 2^-7 … 2^-6".
std::string bar_cell(const Optimum& optimum, const Style& style) {
  std::string cell = range_cell(optimum.bar_log2_low, optimum.bar_log2_high, style);
  if (!std::isnan(optimum.bar_log2_final_low)) {
    cell += style.arrow + range_cell(optimum.bar_log2_final_low, optimum.bar_log2_final_high, style);
  }
  return cell;
}

int trials_available(const ConfigResult& result) {
  int available = 0;
  for (const RateSummary& rate : result.rates) available += rate.available();
  return available;
}
int trials_total(const ConfigResult& result) {
  int total = 0;
  for (const RateSummary& rate : result.rates) total += rate.available() + rate.missing;
  return total;
}

// One objective's table cells for one configuration: value ± std, optimal rate, error bar, the
// other quantity, trials. Empty optimum: dashes.
std::vector<std::string> objective_cells(const ConfigResult& result, const Optimum& optimum,
                                         const Summary RateSummary::*objective, const Style& style) {
  const std::string trials = concat(trials_available(result), "/", trials_total(result),
                                    result.complete ? "" : " (incomplete)");
  if (!optimum.found()) return {"–", "–", "–", "–", trials};
  const RateSummary& rate = result.rates[optimum.index];
  const Summary& summary = rate.*objective;
  return {format_significant(summary.mean) + style.plus_minus + format_significant(summary.std),
          rate_cell(rate.log2_effective_learning_rate, rate.log2_final_effective_learning_rate, style) +
              (optimum.at_edge ? style.edge : ""),
          bar_cell(optimum, style) + (optimum.bar_at_edge ? style.edge : ""),
          format_significant(summary.other), trials};
}

// A table's header: the row fields, then the objective's five columns.
std::vector<std::string> header(const std::vector<Field>& rows, const std::string& value_name,
                                const std::string& other_name, const Style& style) {
  std::vector<std::string> cells;
  for (Field field : rows) cells.push_back(field_caption(field));
  for (const std::string& name : {style.escape(value_name), style.rate_caption, style.bar_caption,
                                  style.escape(other_name), std::string("trials")}) {
    cells.push_back(name);
  }
  return cells;
}

struct Table {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// The test-optimal and the training-loss-optimal table of every section.
std::vector<Table> build_tables(const std::vector<ConfigResult>& results, const TableLabels& labels,
                                const std::vector<Field>& sections, const Style& style) {
  const std::string best_of = concat(" (best ", labels.best_k, " of ", labels.seeds, ")");
  const std::vector<Field> rows = row_fields(sections);
  std::vector<Table> tables;
  for (const auto& group : split(results, sections)) {
    const std::string title = section_title(group.front()->config, sections);
    Table test{title + ": the test-optimal rate",
               header(rows, labels.metric_name + best_of, labels.loss_name + " there", style), {}};
    Table train{title + ": the training-loss-optimal rate (004 §7)",
                header(rows, labels.loss_name + best_of, labels.metric_name + " there", style), {}};
    for (const ConfigResult* result : group) {
      std::vector<std::string> label;
      for (Field field : rows) label.push_back(style.escape(field_value(result->config, field)));
      const auto row = [&](const Optimum& optimum, const Summary RateSummary::*objective) {
        std::vector<std::string> cells = label;
        for (std::string& cell : objective_cells(*result, optimum, objective, style)) cells.push_back(cell);
        return cells;
      };
      test.rows.push_back(row(result->test, &RateSummary::test));
      train.rows.push_back(row(result->train, &RateSummary::train));
    }
    tables.push_back(std::move(test));
    tables.push_back(std::move(train));
  }
  return tables;
}

std::string join(const std::vector<std::string>& cells, const std::string& separator) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) line += (i ? separator : "") + cells[i];
  return line;
}

std::string csv_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string csv_text(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::vector<Field> parse_fields(const std::string& list) {
  std::vector<Field> fields;
  std::stringstream stream(list);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const auto found = std::find_if(std::begin(all_fields), std::end(all_fields),
                                    [&](Field field) { return item == field_name(field); });
    if (found == std::end(all_fields)) {
      fail("--sections: unknown field '", item, "' (expected a comma-separated list of model, optimizer, ",
           "budget, batch_size; an empty list puts every configuration in one table)");
    }
    if (contains(fields, *found)) fail("--sections: field '", item, "' given twice");
    fields.push_back(*found);
  }
  return fields;
}

std::vector<Field> default_sections(const std::vector<ConfigResult>& results) {
  std::vector<std::string> budgets;
  std::vector<std::int64_t> batch_sizes;
  for (const ConfigResult& result : results) {
    if (std::find(budgets.begin(), budgets.end(), result.config.budget) == budgets.end()) {
      budgets.push_back(result.config.budget);
    }
    if (std::find(batch_sizes.begin(), batch_sizes.end(), result.config.batch_size) == batch_sizes.end()) {
      batch_sizes.push_back(result.config.batch_size);
    }
  }
  if (budgets.size() > 1 && batch_sizes.size() == 1) return {Field::model, Field::optimizer, Field::batch_size};
  return {Field::model, Field::optimizer, Field::budget};
}

std::string markdown_tables(const std::vector<ConfigResult>& results, const TableLabels& labels,
                            const std::vector<Field>& sections) {
  std::ostringstream out;
  for (const Table& table : build_tables(results, labels, sections, markdown_style)) {
    out << "#### " << table.title << "\n\n| " << join(table.header, " | ") << " |\n|";
    for (std::size_t i = 0; i < table.header.size(); ++i) out << (i + 5 < table.header.size() ? "---|" : "---:|");
    out << "\n";
    for (const auto& row : table.rows) out << "| " << join(row, " | ") << " |\n";
    out << "\n";
  }
  out << "(edge): the optimum or its error bar reaches the first or last rate of the grid; "
         "`sgdsweep-analyze --refine` writes the rates beyond it.\n";
  return out.str();
}

std::string latex_tables(const std::vector<ConfigResult>& results, const TableLabels& labels,
                         const std::vector<Field>& sections) {
  std::ostringstream out;
  out << "% sgdsweep-analyze: needs \\usepackage{booktabs}. $^\\dagger$: the optimum or its error bar "
         "reaches the edge of the learning-rate grid.\n";
  for (const Table& table : build_tables(results, labels, sections, latex_style)) {
    const std::size_t labels_count = table.header.size() - 5;
    out << "% " << table.title << "\n\\begin{tabular}{" << std::string(labels_count, 'l')
        << "rcccr}\n\\toprule\n" << join(table.header, " & ") << " \\\\\n\\midrule\n";
    for (const auto& row : table.rows) out << join(row, " & ") << " \\\\\n";
    out << "\\bottomrule\n\\end{tabular}\n\n";
  }
  return out.str();
}

std::string csv_table(const std::vector<ConfigResult>& results) {
  std::ostringstream out;
  out << "model,optimizer,budget_kind,budget,batch_size,complete";
  for (const char* p : {"test", "train"}) {
    for (const char* column : {"mean", "std", "k", "n", "optimal_effective_lr", "optimal_log2_effective_lr",
                               "optimal_final_effective_lr", "bar_log2_low", "bar_log2_high",
                               "bar_log2_final_low", "bar_log2_final_high", "other_mean",
                               "optimum_at_edge", "bar_at_edge"}) {
      out << "," << p << "_" << column;
    }
  }
  out << "\n";
  for (const ConfigResult& result : results) {
    const ConfigKey& c = result.config;
    out << csv_text(c.model) << "," << csv_text(c.optimizer) << "," << (c.budget_kind == 0 ? "epochs" : "steps") << ","
        << csv_number(c.budget_value) << "," << c.batch_size << "," << (result.complete ? "true" : "false");
    const auto objective = [&](const Optimum& optimum, const Summary RateSummary::*summary_of) {
      if (!optimum.found()) {
        for (int i = 0; i < 14; ++i) out << (i == 12 || i == 13 ? ",false" : ",nan");
        return;
      }
      const RateSummary& rate = result.rates[optimum.index];
      const Summary& s = rate.*summary_of;
      out << "," << csv_number(s.mean) << "," << csv_number(s.std) << "," << s.used << ","
          << rate.available() << "," << csv_number(rate.effective_learning_rate) << ","
          << csv_number(rate.log2_effective_learning_rate) << "," << csv_number(rate.final_effective_learning_rate)
          << "," << csv_number(optimum.bar_log2_low) << "," << csv_number(optimum.bar_log2_high) << ","
          << csv_number(optimum.bar_log2_final_low) << "," << csv_number(optimum.bar_log2_final_high) << ","
          << csv_number(s.other) << "," << (optimum.at_edge ? "true" : "false") << ","
          << (optimum.bar_at_edge ? "true" : "false");
    };
    objective(result.test, &RateSummary::test);
    objective(result.train, &RateSummary::train);
    out << "\n";
  }
  return out.str();
}

}  // namespace sgdsweep::analysis
