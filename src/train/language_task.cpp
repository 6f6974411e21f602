// Language modelling on Penn Treebank-format text: B parallel token streams read in windows of
// `unroll` tokens (Zaremba et al.), state carried from window to window; evaluation over the
// whole text in a fixed number of streams, perplexity = exp(mean cross-entropy per token).
#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "data/ptb.hpp"
#include "train/task_data.hpp"

namespace sgdsweep::train {
namespace {

// Row-major [streams, window] → time-major [window, streams].
void to_time_major(const std::vector<std::int32_t>& rows, std::int64_t streams, std::int64_t window,
                   std::int32_t* out) {
  for (std::int64_t s = 0; s < streams; ++s) {
    for (std::int64_t t = 0; t < window; ++t) out[t * streams + s] = rows[s * window + t];
  }
}

class LanguageTask final : public PackingTask<LanguageTask> {
 public:
  LanguageTask(const spec::Spec& spec, ops::Backend& backend) : spec_(spec), backend_(backend) {
    train_source_ = (std::filesystem::path(spec.data_path) / spec.train_file).string();
    test_source_ = (std::filesystem::path(spec.data_path) / spec.test_file).string();
    const std::vector<std::string> train_words = data::read_ptb_words(train_source_);
    vocabulary_ = data::build_vocabulary(train_words);
    std::int64_t unknown = 0;
    train_ = data::encode(train_words, vocabulary_, train_source_, &unknown);
    test_ = data::encode(data::read_ptb_words(test_source_), vocabulary_, test_source_, &test_unknown_);
    if (spec.train_examples > 0) train_.resize(std::min<std::size_t>(train_.size(), spec.train_examples));
    if (spec.test_examples > 0) test_.resize(std::min<std::size_t>(test_.size(), spec.test_examples));
  }

  spec::DataShape shape() const override {
    return {static_cast<std::int64_t>(train_.size()), static_cast<std::int64_t>(test_.size())};
  }
  std::string train_source() const override { return train_source_; }
  std::string test_source() const override { return test_source_; }
  std::int64_t vocabulary() const override { return vocabulary_.size(); }
  // Test words outside the training vocabulary, read as <unk>.
  std::int64_t test_unknown_words() const { return test_unknown_; }

  // Windows of token streams, inputs and targets, time-major, for `copies` copies back to back
  // ([copies, window, count]): staged on the host copy by copy, then uploaded together.
  class Windows {
   public:
    Windows(ops::Backend& backend, std::int64_t copies, std::int64_t streams, std::int64_t window)
        : window_(window), tokens_(backend, static_cast<std::size_t>(copies * streams * window)),
          labels_(backend, tokens_.size()), rows_in_(static_cast<std::size_t>(streams * window)),
          rows_out_(rows_in_.size()), host_tokens_(tokens_.size()), host_labels_(tokens_.size()) {}
    // Streams [first, first + count) of window `window_index` as copy `copy`'s.
    void stage(const data::TokenStreams& streams, std::int64_t window_index, std::int64_t first, std::int64_t count,
               std::int64_t copy) {
      streams.batch(window_index, first, count, rows_in_.data(), rows_out_.data());
      to_time_major(rows_in_, count, window_, host_tokens_.data() + copy * count * window_);
      to_time_major(rows_out_, count, window_, host_labels_.data() + copy * count * window_);
    }
    // The first `copies` copies' windows into backend memory.
    nn::Batch upload(std::int64_t copies, const data::TokenStreams& streams, std::int64_t first, std::int64_t count) {
      tokens_.upload(host_tokens_.data(), static_cast<std::size_t>(copies * count * window_));
      labels_.upload(host_labels_.data(), static_cast<std::size_t>(copies * count * window_));
      nn::Batch batch;
      batch.tokens = tokens_.data();
      batch.labels = labels_.data();
      batch.size = count;
      batch.first_row = first;
      batch.step_rows = streams.streams();
      return batch;
    }
    nn::Batch stage(const data::TokenStreams& streams, std::int64_t window_index, std::int64_t first,
                    std::int64_t count) {
      stage(streams, window_index, first, count, 0);
      return upload(1, streams, first, count);
    }

   private:
    std::int64_t window_;
    ops::Buffer<std::int32_t> tokens_, labels_;
    std::vector<std::int32_t> rows_in_, rows_out_, host_tokens_, host_labels_;
  };

  // A pack's windows: every trial of a pack has the same B, so the same streams; each copy reads
  // the window of its own step.
  class Packed final : public PackBatches {
   public:
    Packed(LanguageTask& task, std::int64_t copies, std::int64_t microbatch)
        : task_(task), copies_(copies), microbatch_(microbatch) {}
    void assign(std::int64_t, const spec::Trial* trial) override {
      if (trial && !streams_) {
        streams_.emplace(task_.train_, trial->batch_size, task_.spec_.unroll);
        steps_per_epoch_ = trial->steps_per_epoch;
      }
    }
    void upload(const std::vector<std::int64_t>& steps, std::int64_t first, std::int64_t count,
                std::size_t slot) override {
      while (slots_.size() <= slot) slots_.push_back({Windows(task_.backend_, copies_, microbatch_, task_.spec_.unroll), {}, {}});
      Slot& s = slots_[slot];
      for (std::int64_t c = 0; c < copies_; ++c) s.windows.stage(*streams_, steps[c] % steps_per_epoch_, first, count, c);
      s.steps = steps;
      s.batch = s.windows.upload(copies_, *streams_, first, count);
      s.batch.step = steps.front();
      s.batch.steps = s.steps.data();
    }
    nn::Batch gather(std::size_t slot) override { return slots_.at(slot).batch; }

   private:
    struct Slot {
      Windows windows;
      std::vector<std::int64_t> steps;
      nn::Batch batch;
    };
    LanguageTask& task_;
    std::int64_t copies_, microbatch_, steps_per_epoch_ = 1;
    std::optional<data::TokenStreams> streams_;
    std::vector<Slot> slots_;
  };

  // One sequential pass (the state carries from window to window): a single "chunk", evaluated
  // by the team's member 0 and shared with the others.
  Evaluation evaluate_copy(nn::Model& model, std::int64_t copy, bool test, std::int64_t limit,
                           comm::GradientReducer& team) override {
    double totals[2];
    evaluate_chunks(team, 1, [&](std::int64_t, double* out) { evaluate_pass(model, copy, test, limit, out); }, totals);
    const double terms = evaluated_terms(test, limit);
    return {totals[0] / terms, finalize_metric(spec_.model, totals[0], totals[1], terms, terms)};
  }

 private:
  // Loss and correct-prediction sums of one pass (of copy `copy` of a pack, −1: a model of one
  // copy) into out[0], out[1].
  void evaluate_pass(nn::Model& model, std::int64_t copy, bool test, std::int64_t limit, double* out) {
    std::vector<std::int32_t> tokens = test ? test_ : train_;
    if (!test && limit > 0 && static_cast<std::int64_t>(tokens.size()) > limit) tokens.resize(limit);
    const data::TokenStreams streams(std::move(tokens), spec_.evaluation_streams, spec_.unroll);
    const std::int64_t chunk = std::min(model.max_batch(), streams.streams());
    Windows windows(backend_, 1, chunk, spec_.unroll);
    ops::Buffer<double> sums(backend_, 2);
    model.reset_evaluation_state();
    double loss = 0.0, correct = 0.0;
    for (std::int64_t step = 0; step < streams.steps_per_epoch(); ++step) {
      for (std::int64_t first = 0; first < streams.streams(); first += chunk) {
        const std::int64_t count = std::min(chunk, streams.streams() - first);
        model.evaluate(windows.stage(streams, step, first, count), {sums.data(), sums.data() + 1, copy});
        double host[2];
        sums.download(host, 2);
        loss += host[0];
        correct += host[1];
      }
    }
    out[0] = loss;
    out[1] = correct;
  }

  // The tokens a pass scores: windows × streams × unroll.
  double evaluated_terms(bool test, std::int64_t limit) const {
    std::int64_t tokens = static_cast<std::int64_t>(test ? test_.size() : train_.size());
    if (!test && limit > 0) tokens = std::min(tokens, limit);
    const std::int64_t length = tokens / spec_.evaluation_streams;
    return static_cast<double>((length - 1) / spec_.unroll * spec_.evaluation_streams * spec_.unroll);
  }

  const spec::Spec& spec_;
  ops::Backend& backend_;
  std::string train_source_, test_source_;
  data::Vocabulary vocabulary_;
  std::vector<std::int32_t> train_, test_;
  std::int64_t test_unknown_ = 0;
};

}  // namespace

std::unique_ptr<TaskData> load_language_task(const spec::Spec& spec, ops::Backend& backend) {
  return std::make_unique<LanguageTask>(spec, backend);
}

}  // namespace sgdsweep::train
