// Spec parsing and validation: TOML → Spec, strictly (unknown keys, wrong types and out-of-range
// values are errors that name the file, the line and the field; docs/spec.md lists every key).
#include "spec/spec.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <toml++/toml.h>
#include <cstdio>
#include <type_traits>

#include "util/error.hpp"

namespace sgdsweep::spec {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

template <class T>
std::string join_values(const std::vector<T>& values) {
  std::vector<std::string> items;
  for (const T& value : values) items.push_back(concat(value));
  return join(items);
}

template <class T>
bool contains(const std::vector<T>& values, const T& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

std::optional<OptimizerKind> optimizer_kind(const std::string& name) {
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "momentum") return OptimizerKind::momentum;
  return std::nullopt;
}

toml::table parse_toml(const std::string& text, const std::string& source_path) {
  try {
    return toml::parse(text, source_path);
  } catch (const toml::parse_error& error) {
    fail(source_path, ":", error.source().begin.line, ":", error.source().begin.column,
         ": TOML syntax error: ", error.description());
  }
}

std::string where(const std::string& file, const toml::node& node) {
  const auto& begin = node.source().begin;
  return concat(file, ":", begin.line, ":", begin.column);
}

std::string type_name(const toml::node& node) {
  std::ostringstream out;
  out << node.type();
  return out.str();
}

// One [section] of the spec, or one entry of an array of tables ([[grid.extend]]): typed getters
// that name the field on error, and a check that every key present is one we know.
class Section {
 public:
  Section(const toml::table& root, const std::string& name, std::vector<std::string> keys,
          const std::string& file)
      : Section(root.get(name), concat("[", name, "]"), std::move(keys), file) {}
  // `label` names the table in messages: "[grid]", "[grid].extend[0]".
  Section(const toml::node* node, std::string label, std::vector<std::string> keys, const std::string& file)
      : label_(std::move(label)), keys_(std::move(keys)), file_(file) {
    if (!node) return;
    table_ = node->as_table();
    if (!table_) fail(where(file_, *node), ": ", label_, " must be a table, got ", type_name(*node));
    for (const auto& [key, value] : *table_) {
      if (!contains(keys_, std::string(key.str()))) {
        fail(where(file_, value), ": unknown key '", key.str(), "' in ", label_, " (valid keys: ",
             join(keys_), ")");
      }
    }
  }

  const toml::node* node(const std::string& key) const { return table_ ? table_->get(key) : nullptr; }
  std::string field(const std::string& key) const { return concat(label_, ".", key); }
  [[noreturn]] void bad(const std::string& key, const toml::node& value,
                        const std::string& expected) const {
    fail(where(file_, value), ": ", field(key), " must be ", expected, ", got ", describe(value));
  }
  [[noreturn]] void missing(const std::string& key, const std::string& expected) const {
    fail(file_, ": missing required ", field(key), " (", expected, ")");
  }

  std::optional<std::int64_t> integer(const std::string& key) const {
    const toml::node* value = node(key);
    if (!value) return std::nullopt;
    if (!value->is_integer()) bad(key, *value, "an integer");
    return value->value<std::int64_t>();
  }
  std::optional<double> number(const std::string& key) const {
    const toml::node* value = node(key);
    if (!value) return std::nullopt;
    if (!value->is_number()) bad(key, *value, "a number");
    return value->value<double>();
  }
  std::optional<std::string> string(const std::string& key) const {
    const toml::node* value = node(key);
    if (!value) return std::nullopt;
    if (!value->is_string()) bad(key, *value, "a string");
    return value->value<std::string>();
  }
  // A non-empty array whose items are all T (std::string or std::int64_t).
  template <class T>
  std::optional<std::vector<T>> array(const std::string& key) const {
    const char* expected = std::is_same_v<T, std::string> ? "a non-empty array of strings"
                                                          : "a non-empty array of integers";
    const toml::node* value = node(key);
    if (!value) return std::nullopt;
    const toml::array* items = value->as_array();
    if (!items || items->empty()) bad(key, *value, expected);
    std::vector<T> out;
    for (const toml::node& item : *items) {
      if (!item.is<T>()) bad(key, item, expected);
      out.push_back(*item.value<T>());
    }
    return out;
  }
  const std::string& file() const { return file_; }

 private:
  static std::string describe(const toml::node& value) {
    std::ostringstream out;
    out << type_name(value);
    if (value.is_value()) {
      out << " ";
      value.visit([&](const auto& v) { out << v; });
    }
    return out.str();
  }

  std::string label_;
  std::vector<std::string> keys_;
  const std::string& file_;
  const toml::table* table_ = nullptr;
};

template <class T>
T require(std::optional<T> value, const Section& section, const std::string& key,
          const std::string& expected) {
  if (!value) section.missing(key, expected);
  return *value;
}

// Fails with the field's location when `ok` is false.
void check(bool ok, const Section& section, const std::string& key, const std::string& message) {
  if (ok) return;
  const toml::node* value = section.node(key);
  fail(value ? where(section.file(), *value) : section.file(), ": ", section.field(key), " ",
       message);
}

// [grid].log2_effective_lr: an array of exponents, or { from, to, step = 1 }.
std::vector<double> learning_rate_exponents(const Section& grid, const std::string& key) {
  const toml::node* value = grid.node(key);
  const std::string expected =
      "an array of log2 exponents or a table { from = …, to = …, step = 1 }";
  if (!value) grid.missing(key, expected);
  std::vector<double> exponents;
  if (const toml::array* array = value->as_array()) {
    for (const toml::node& item : *array) {
      if (!item.is_number()) grid.bad(key, item, expected);
      exponents.push_back(*item.value<double>());
    }
  } else if (const toml::table* range = value->as_table()) {
    for (const auto& [name, entry] : *range) {
      const std::string k(name.str());
      if (k != "from" && k != "to" && k != "step") {
        fail(where(grid.file(), entry), ": unknown key '", k, "' in ", grid.field(key),
             " (valid keys: from, to, step)");
      }
      if (!entry.is_number()) grid.bad(key + "." + k, entry, "a number");
    }
    if (!range->get("from") || !range->get("to")) {
      grid.bad(key, *value, expected + " (from and to are required)");
    }
    const double from = *range->get("from")->value<double>();
    const double to = *range->get("to")->value<double>();
    const double step = range->get("step") ? *range->get("step")->value<double>() : 1.0;
    check(step > 0 && to >= from, grid, key, "needs from <= to and step > 0");
    const auto count = static_cast<std::int64_t>(std::floor((to - from) / step + 1e-9)) + 1;
    check(count <= 1000, grid, key, "spans more than 1000 learning rates");
    for (std::int64_t i = 0; i < count; ++i) exponents.push_back(from + step * i);
  } else {
    grid.bad(key, *value, expected);
  }
  check(!exponents.empty(), grid, key, "must name at least one learning rate");
  std::vector<double> sorted = exponents;
  std::sort(sorted.begin(), sorted.end());
  check(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), grid, key,
        "lists a learning rate twice");
  for (double e : sorted) check(std::abs(e) <= 60, grid, key, "exponents must lie in [-60, 60]");
  return sorted;
}

// [budget].epochs / steps: one positive number, or an array of them (a grid dimension: the
// "unlimited" study sweeps epoch budgets). Steps must be integers. Sorted, distinct.
std::vector<double> budget_values(const Section& budget, const std::string& key, bool integral) {
  const toml::node* value = budget.node(key);
  const std::string expected = integral ? "a positive integer or an array of them"
                                        : "a positive number or an array of them";
  std::vector<double> values;
  const auto take = [&](const toml::node& item) {
    if (integral ? !item.is_integer() : !item.is_number()) budget.bad(key, item, expected);
    const double v = *item.value<double>();
    if (!(v > 0)) budget.bad(key, item, expected);
    values.push_back(v);
  };
  if (const toml::array* array = value->as_array()) {
    if (array->empty()) budget.bad(key, *value, expected);
    for (const toml::node& item : *array) take(item);
  } else {
    take(*value);
  }
  std::sort(values.begin(), values.end());
  check(std::adjacent_find(values.begin(), values.end()) == values.end(), budget, key,
        "lists a budget twice");
  return values;
}

// [[grid.extend]]: each entry adds rates to one configuration (optimizer, budget, batch size) of
// the spec's own grid; docs/spec.md. `spec` holds everything parsed before [grid].extend.
std::vector<GridExtension> grid_extensions(const Section& grid, const Spec& spec,
                                           const std::vector<std::string>& optimizer_names) {
  std::vector<GridExtension> extensions;
  const toml::node* node = grid.node("extend");
  if (!node) return extensions;
  const toml::array* entries = node->as_array();
  if (!entries || !entries->is_array_of_tables()) {
    grid.bad("extend", *node, "an array of tables (written as [[grid.extend]] entries)");
  }
  const bool decoupled = !spec.log2_final_effective_learning_rates.empty();
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const Section entry(entries->get(i), concat(grid.field("extend"), "[", i, "]"),
                        {"optimizer", "batch_size", "budget", "log2_effective_lr", "log2_final_effective_lr"},
                        grid.file());
    GridExtension extension;
    const std::string names = join(optimizer_names);
    const std::string optimizer =
        require(entry.string("optimizer"), entry, "optimizer", concat("one of [optimizer].names: ", names));
    check(contains(optimizer_names, optimizer), entry, "optimizer",
          concat("= '", optimizer, "' is not one of [optimizer].names (", names, ")"));
    extension.optimizer = *optimizer_kind(optimizer);

    const std::string batch_sizes = join_values(spec.batch_sizes);
    extension.batch_size = require(entry.integer("batch_size"), entry, "batch_size",
                                   concat("one of [grid].batch_sizes: ", batch_sizes));
    check(contains(spec.batch_sizes, extension.batch_size), entry, "batch_size",
          concat("= ", extension.batch_size, " is not one of [grid].batch_sizes (", batch_sizes, ")"));

    const std::string budgets = join_values(spec.budgets);
    const std::optional<double> budget = entry.number("budget");
    if (!budget && spec.budgets.size() > 1) {
      entry.missing("budget", concat("[budget] lists several budgets; name one of ", budgets));
    }
    extension.budget = budget.value_or(spec.budgets.front());
    check(contains(spec.budgets, extension.budget), entry, "budget",
          concat("= ", extension.budget, " is not one of the [budget] values (", budgets, ")"));

    extension.log2_effective_learning_rates = learning_rate_exponents(entry, "log2_effective_lr");
    if (entry.node("log2_final_effective_lr")) {
      check(decoupled, entry, "log2_final_effective_lr",
            "applies to decoupled specs only (those with [grid].log2_final_effective_lr)");
      extension.log2_final_effective_learning_rates = learning_rate_exponents(entry, "log2_final_effective_lr");
    } else {
      extension.log2_final_effective_learning_rates = spec.log2_final_effective_learning_rates;
    }
    check(!decoupled || extension.log2_final_effective_learning_rates.front() <=
                            extension.log2_effective_learning_rates.back(),
          entry, "log2_effective_lr", "has no rate at or above a final rate (pairs need εf <= ε0)");
    extensions.push_back(std::move(extension));
  }
  return extensions;
}

}  // namespace

Spec parse_spec(const std::string& text, const std::string& source_path) {
  const toml::table root = parse_toml(text, source_path);
  const std::vector<std::string> sections = {"sweep",     "model",     "data", "budget",
                                             "schedule",  "optimizer", "grid", "evaluation",
                                             "parallel",  "analysis"};
  for (const auto& [key, value] : root) {
    if (!contains(sections, std::string(key.str()))) {
      fail(where(source_path, value), ": unknown section [", key.str(), "] (valid sections: ",
           join(sections), ")");
    }
  }

  Spec spec;
  spec.source_path = source_path;
  spec.source_text = text;

  const Section sweep(root, "sweep", {"name", "seed", "seeds", "device", "deterministic", "tf32"}, source_path);
  spec.name = sweep.string("name").value_or(spec.name);
  const std::int64_t seed = sweep.integer("seed").value_or(0);
  check(seed >= 0, sweep, "seed", "must be >= 0");
  spec.seed = static_cast<std::uint64_t>(seed);
  const std::int64_t seeds = sweep.integer("seeds").value_or(1);
  check(seeds >= 1 && seeds <= 100000, sweep, "seeds", "must be between 1 and 100000");
  spec.seeds = static_cast<std::int32_t>(seeds);
  spec.device = sweep.string("device").value_or(spec.device);
  check(spec.device == "host" || spec.device == "cuda", sweep, "device",
        "must be \"host\" or \"cuda\"");
  for (const char* key : {"deterministic", "tf32"}) {
    const toml::node* node = sweep.node(key);
    if (!node) continue;
    if (!node->is_boolean()) sweep.bad(key, *node, "true or false");
    (std::string(key) == "tf32" ? spec.tf32 : spec.deterministic) = *node->value<bool>();
  }

  const Section model(root, "model",
                      {"name", "init", "normalization", "ghost_batch_size", "dropout", "layers",
                       "hidden", "unroll", "init_scale", "microbatch"},
                      source_path);
  spec.model_name =
      require(model.string("name"), model, "name",
              "\"autoencoder\", \"wrn-<depth>-<width>\", \"resnet50\" or \"lstm\"");
  long long depth = 0, width = 0;
  char tail = 0;
  if (spec.model_name == "autoencoder") {
    spec.model = ModelKind::autoencoder;
  } else if (spec.model_name == "lstm") {
    spec.model = ModelKind::lstm;
  } else if (spec.model_name == "resnet50") {
    spec.model = ModelKind::resnet;
  } else if (std::sscanf(spec.model_name.c_str(), "wrn-%lld-%lld%c", &depth, &width, &tail) == 2) {
    spec.model = ModelKind::wide_resnet;
    spec.depth = depth;
    spec.width = width;
    check(depth >= 10 && (depth - 4) % 6 == 0 && width >= 1, model, "name",
          concat("'", spec.model_name, "': a Wide-ResNet needs depth = 6n + 4 (16, 22, 28, …) and width >= 1"));
  } else {
    check(false, model, "name",
          concat("'", spec.model_name,
                 "' is not a known model (valid: autoencoder, wrn-<depth>-<width> such as wrn-16-4, resnet50, lstm)"));
  }
  const bool is_autoencoder = spec.model == ModelKind::autoencoder;
  const bool is_wrn = spec.model == ModelKind::wide_resnet;
  const bool is_lstm = spec.model == ModelKind::lstm;
  const bool is_resnet = spec.model == ModelKind::resnet;
  // A key that does not apply to the chosen model is an error, not silently ignored.
  const auto only_for = [&](const char* key, bool applies, const char* models) {
    check(!model.node(key) || applies, model, key, concat("applies to ", models, " only (model is '", spec.model_name, "')"));
  };
  only_for("init", is_autoencoder, "the autoencoder");
  only_for("normalization", is_wrn, "wrn-<depth>-<width>");
  only_for("ghost_batch_size", is_wrn || is_resnet, "wrn-<depth>-<width> and resnet50");
  only_for("dropout", is_wrn || is_lstm, "wrn and lstm");
  for (const char* key : {"layers", "hidden", "unroll", "init_scale"}) only_for(key, is_lstm, "lstm");

  spec.init = model.string("init").value_or(spec.init);
  check(spec.init == "sparse" || spec.init == "glorot", model, "init",
        "must be \"sparse\" or \"glorot\"");
  const std::string normalization = model.string("normalization").value_or("ghost-bn");
  check(normalization == "ghost-bn" || normalization == "skipinit", model, "normalization",
        "must be \"ghost-bn\" or \"skipinit\" (Regularized SkipInit)");
  spec.batch_norm = normalization == "ghost-bn";
  spec.ghost_batch_size = model.integer("ghost_batch_size").value_or(64);
  check(spec.ghost_batch_size >= 1, model, "ghost_batch_size", "must be >= 1");
  spec.dropout = model.number("dropout").value_or(is_lstm ? 0.5 : (is_wrn && !spec.batch_norm ? 0.6 : 0.0));
  check(spec.dropout >= 0 && spec.dropout < 1, model, "dropout", "must lie in [0, 1)");
  spec.layers = model.integer("layers").value_or(2);
  check(spec.layers >= 1 && spec.layers <= 16, model, "layers", "must be between 1 and 16");
  spec.hidden = model.integer("hidden").value_or(650);
  check(spec.hidden >= 1, model, "hidden", "must be >= 1");
  spec.unroll = model.integer("unroll").value_or(35);
  check(spec.unroll >= 1, model, "unroll", "must be >= 1");
  spec.init_scale = model.number("init_scale").value_or(0.05);
  check(spec.init_scale > 0, model, "init_scale", "must be > 0");
  spec.microbatch = model.integer("microbatch").value_or(0);
  check(spec.microbatch >= 0, model, "microbatch", "must be >= 0 (0 = the model's default)");
  check(!(((is_wrn && spec.batch_norm) || is_resnet) && spec.microbatch > 0), model, "microbatch",
        "is the ghost batch for a batch-normalised network: set ghost_batch_size instead");

  const Section data(root, "data",
                     {"dataset", "path", "train_file", "test_file", "augment", "train_examples",
                      "test_examples", "train_split", "test_split", "image_size"},
                     source_path);
  // resnet50 defaults to CIFAR at its 32×32 (the stem and pooling shrink, global pooling absorbs the
  // rest); "image-folder" reads an ImageNet-layout tree of JPEGs at [data].image_size.
  const char* default_dataset = is_wrn || is_resnet ? "cifar10" : is_lstm ? "ptb" : "fashion-mnist";
  spec.dataset = data.string("dataset").value_or(default_dataset);
  const bool images = spec.dataset == "fashion-mnist" || spec.dataset == "mnist";
  const bool cifar = spec.dataset == "cifar10" || spec.dataset == "cifar100";
  const bool ptb = spec.dataset == "ptb";
  const bool folder = spec.dataset == "image-folder";
  check(images || cifar || ptb || folder, data, "dataset",
        "must be \"fashion-mnist\", \"mnist\", \"cifar10\", \"cifar100\", \"ptb\" or \"image-folder\"");
  check((is_autoencoder && images) || ((is_wrn || is_resnet) && cifar) || (is_resnet && folder) || (is_lstm && ptb),
        data, "dataset",
        concat("'", spec.dataset, "' does not fit model '", spec.model_name,
               "' (autoencoder: fashion-mnist, mnist; wrn: cifar10, cifar100; resnet50: cifar10, cifar100, ",
               "image-folder; lstm: ptb)"));
  if (!data.node("path") && !images) {
    fail(source_path, ": missing required [data].path (the folder holding the ", spec.dataset, " files)");
  }
  spec.data_path = data.string("path").value_or(spec.data_path);
  check(!data.node("train_file") || ptb, data, "train_file", "applies to ptb only");
  check(!data.node("test_file") || ptb, data, "test_file", "applies to ptb only");
  check(!data.node("augment") || cifar || folder, data, "augment", "applies to cifar10, cifar100 and image-folder only");
  for (const char* key : {"train_split", "test_split", "image_size"}) {
    check(!data.node(key) || folder, data, key, "applies to image-folder only");
  }
  spec.train_split = data.string("train_split").value_or(spec.train_split);
  spec.test_split = data.string("test_split").value_or(spec.test_split);
  spec.image_size = data.integer("image_size").value_or(spec.image_size);
  check(spec.image_size >= 8 && spec.image_size <= 4096, data, "image_size", "must be 8 … 4096 (pixels)");
  spec.train_file = data.string("train_file").value_or(spec.train_file);
  spec.test_file = data.string("test_file").value_or(spec.test_file);
  if (data.node("augment") && !data.node("augment")->is_boolean()) data.bad("augment", *data.node("augment"), "true or false");
  spec.augment = data.node("augment") ? *data.node("augment")->value<bool>() : true;
  spec.train_examples = data.integer("train_examples").value_or(0);
  check(spec.train_examples >= 0, data, "train_examples", "must be >= 0 (0 = all)");
  spec.test_examples = data.integer("test_examples").value_or(0);
  check(spec.test_examples >= 0, data, "test_examples", "must be >= 0 (0 = all)");
  std::filesystem::path data_path(spec.data_path);
  if (data_path.is_relative() && source_path != "<string>") {
    data_path = std::filesystem::path(source_path).parent_path() / data_path;
    spec.data_path = data_path.lexically_normal().string();
  }

  const Section budget(root, "budget", {"epochs", "steps"}, source_path);
  if ((budget.node("epochs") != nullptr) == (budget.node("steps") != nullptr)) {
    fail(source_path, ": [budget] needs exactly one of epochs (constant epoch budget) or steps ",
         "(constant step budget)");
  }
  spec.budget_kind = budget.node("epochs") ? BudgetKind::epochs : BudgetKind::steps;
  const std::string budget_key = budget.node("epochs") ? "epochs" : "steps";
  spec.budgets = budget_values(budget, budget_key, spec.budget_kind == BudgetKind::steps);

  const Section schedule(root, "schedule", {"gamma", "warmup_epochs"}, source_path);
  spec.gamma = schedule.number("gamma").value_or(spec.gamma);
  check(spec.gamma >= 1.0, schedule, "gamma", "must be >= 1 (the factor each drop divides by)");
  spec.warmup_epochs = schedule.number("warmup_epochs").value_or(0.0);
  check(spec.warmup_epochs >= 0, schedule, "warmup_epochs", "must be >= 0");

  const Section optimizer(root, "optimizer", {"names", "momentum", "l2", "clip_norm"}, source_path);
  const auto names = require(optimizer.array<std::string>("names"), optimizer, "names",
                             "an array of \"sgd\" and/or \"momentum\"");
  for (const std::string& name : names) {
    const std::optional<OptimizerKind> kind = optimizer_kind(name);
    check(kind.has_value(), optimizer, "names", concat("contains '", name, "' (valid: sgd, momentum)"));
    check(!contains(spec.optimizers, *kind), optimizer, "names", concat("lists '", name, "' twice"));
    spec.optimizers.push_back(*kind);
  }
  spec.momentum = optimizer.number("momentum").value_or(spec.momentum);
  check(spec.momentum > 0 && spec.momentum < 1, optimizer, "momentum", "must lie in (0, 1)");
  // Appendix B.2: L2 5e-4 for the Wide-ResNets, 1e-5 for the autoencoder; none for the LSTM;
  // ResNet-50 Goyal et al.'s 1e-4 (on weights; BN γ and β are unregularized by their role).
  spec.l2 = optimizer.number("l2").value_or(is_wrn ? 5e-4 : is_resnet ? 1e-4 : is_lstm ? 0.0 : 1e-5);
  check(spec.l2 >= 0, optimizer, "l2", "must be >= 0");
  spec.clip_norm = optimizer.number("clip_norm").value_or(is_lstm ? 5.0 : 0.0);
  check(spec.clip_norm >= 0, optimizer, "clip_norm", "must be >= 0 (0 = no clipping)");

  const Section grid(root, "grid", {"batch_sizes", "log2_effective_lr", "log2_final_effective_lr", "extend"},
                     source_path);
  spec.batch_sizes = require(grid.array<std::int64_t>("batch_sizes"), grid, "batch_sizes",
                             "an array of positive integers");
  for (std::size_t i = 0; i < spec.batch_sizes.size(); ++i) {
    check(spec.batch_sizes[i] > 0, grid, "batch_sizes",
          concat("[", i, "] = ", spec.batch_sizes[i], ": batch sizes must be positive"));
  }
  std::vector<std::int64_t> sorted_batches = spec.batch_sizes;
  std::sort(sorted_batches.begin(), sorted_batches.end());
  check(std::adjacent_find(sorted_batches.begin(), sorted_batches.end()) == sorted_batches.end(),
        grid, "batch_sizes", "lists a batch size twice");
  spec.log2_effective_learning_rates = learning_rate_exponents(grid, "log2_effective_lr");
  if (grid.node("log2_final_effective_lr")) {
    spec.log2_final_effective_learning_rates = learning_rate_exponents(grid, "log2_final_effective_lr");
    check(spec.log2_final_effective_learning_rates.front() <= spec.log2_effective_learning_rates.back(),
          grid, "log2_final_effective_lr", "has no rate at or below an initial rate (pairs need εf <= ε0)");
    check(!schedule.node("gamma"), schedule, "gamma",
          "is set by the decoupled schedule (γ = (ε0/εf)^(1/10)) when [grid].log2_final_effective_lr is given");
  }
  spec.grid_extensions = grid_extensions(grid, spec, names);

  const Section evaluation(root, "evaluation",
                           {"points", "train_examples", "step_loss_every", "streams"}, source_path);
  const std::int64_t points = evaluation.integer("points").value_or(10);
  check(points >= 1 && points <= 100000, evaluation, "points", "must be between 1 and 100000");
  spec.evaluations = static_cast<std::int32_t>(points);
  spec.eval_train_examples = evaluation.integer("train_examples").value_or(0);
  check(spec.eval_train_examples >= 0, evaluation, "train_examples", "must be >= 0 (0 = all)");
  const std::int64_t every = evaluation.integer("step_loss_every").value_or(1);
  check(every >= 1 && every <= (1 << 30), evaluation, "step_loss_every", "must be >= 1");
  spec.step_loss_every = static_cast<std::int32_t>(every);
  check(!evaluation.node("streams") || is_lstm, evaluation, "streams", "applies to lstm only");
  spec.evaluation_streams = evaluation.integer("streams").value_or(10);
  check(spec.evaluation_streams >= 1, evaluation, "streams", "must be >= 1");

  const Section parallel(root, "parallel", {"max_examples_per_rank", "balance_teams", "pack"}, source_path);
  spec.max_examples_per_rank = parallel.integer("max_examples_per_rank").value_or(0);
  check(spec.max_examples_per_rank >= 0, parallel, "max_examples_per_rank", "must be >= 0 (0 = no limit)");
  if (const toml::node* balance = parallel.node("balance_teams")) {
    if (!balance->is_boolean()) parallel.bad("balance_teams", *balance, "true or false");
    spec.balance_teams = *balance->value<bool>();
  }
  spec.pack = parallel.integer("pack").value_or(1);
  check(spec.pack >= 1 && spec.pack <= 4096, parallel, "pack", "must be between 1 and 4096");
  check(spec.pack == 1 || model_packs(spec.model), parallel, "pack",
        concat("must be 1 for model '", spec.model_name, "' (ResNet-50 does not train in packs)"));

  const Section analysis(root, "analysis", {"best_k"}, source_path);
  const std::int64_t best_k = analysis.integer("best_k").value_or(spec.seeds);
  check(best_k >= 1 && best_k <= spec.seeds, analysis, "best_k",
        concat("must be between 1 and [sweep].seeds = ", spec.seeds));
  spec.best_k = static_cast<std::int32_t>(best_k);
  return spec;
}

void apply_overrides(Spec& spec, const std::string& device, std::int64_t pack) {
  if (!device.empty()) {
    if (device != "host" && device != "cuda") fail("--device ", device, ": must be host or cuda");
    spec.device = device;
  }
  if (pack != 0) {
    if (pack < 1 || pack > 4096) fail("--pack ", pack, ": must be between 1 and 4096");
    if (pack > 1 && !model_packs(spec.model)) {
      fail("--pack ", pack, ": model '", spec.model_name,
           "' does not train in packs (ResNet-50 does not)");
    }
    spec.pack = pack;
  }
}

std::vector<std::string> unrecorded_differences(const std::string& stored_text, const std::string& text) {
  const toml::table stored = parse_toml(stored_text, "the stored spec");
  const toml::table given = parse_toml(text, "the spec");
  const toml::table empty;
  std::vector<std::string> differing;
  for (const char* section : {"model", "data", "evaluation"}) {
    const toml::table* a = stored[section].as_table();
    const toml::table* b = given[section].as_table();
    if (*(a ? a : &empty) != *(b ? b : &empty)) differing.push_back(concat("[", section, "]"));
  }
  return differing;
}

Spec load_spec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the spec file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_spec(text.str(), path);
}

}  // namespace sgdsweep::spec
