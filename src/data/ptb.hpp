// Penn Treebank, word level (Mikolov's ptb.{train,valid,test}.txt): words separated by white space,
// one sentence per line, "<eos>" appended at the end of every line, "<unk>" an ordinary word that
// the files already contain. Then the vocabulary, the ids, and the B parallel token streams of
// Zaremba et al. (2014) that a truncated-BPTT LSTM reads.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace sgdsweep::data {

// The words of `path` in order, with "<eos>" after every line: "a b\n\nc\n" → a b <eos> <eos> c
// <eos> (every '\n' ends a line, as in Zaremba's reader; a last line without '\n' that has words
// also gets its "<eos>"). White space is ASCII space, tab, CR, VT and FF. Throws Error naming the
// file when it is missing or unreadable, holds no words, or is not a text file (a NUL byte or
// invalid UTF-8, with its byte offset).
std::vector<std::string> read_ptb_words(const std::string& path);

// Word ↔ id. Made by build_vocabulary or from_words; `words` is read-only afterwards.
struct Vocabulary {
  std::vector<std::string> words;  // id → word
  std::int32_t unknown = -1;       // id of "<unk>", −1 if absent

  std::int32_t index_of(const std::string& word) const;  // −1 if absent
  std::int64_t size() const { return static_cast<std::int64_t>(words.size()); }

  // Word i gets id i; a repeated word is an error.
  static Vocabulary from_words(std::vector<std::string> words);

 private:
  std::unordered_map<std::string, std::int32_t> ids_;
};

// Every distinct training word, ordered by descending count, ties by the word in byte order:
// {b, a, b, c, a, b} → b (3), a (2), c (1).
Vocabulary build_vocabulary(const std::vector<std::string>& training_words);

// Words → ids. A word not in the vocabulary becomes <unk>; their number is stored in
// *unknown_words when it is not null. Without <unk> in the vocabulary, such a word is an error
// naming it, its position and `source` (the file the words came from).
std::vector<std::int32_t> encode(const std::vector<std::string>& words, const Vocabulary& vocabulary,
                                 const std::string& source, std::int64_t* unknown_words);

// The token sequence (N tokens) cut into `streams` contiguous rows of L = floor(N / streams) tokens
// (the last N − streams·L are dropped). Step t of an epoch reads columns [t·T, t·T + T) of every
// row as inputs and [t·T + 1, t·T + T + 1) as targets, T = unroll; steps per epoch =
// floor((L − 1) / T) ≥ 1. Example: N = 23, streams 2, unroll 3 → rows 0…10 and 11…21 (22
// dropped), 3 steps; step 1 of row 1 reads 14 15 16 and predicts 15 16 17.
class TokenStreams {
 public:
  TokenStreams(std::vector<std::int32_t> tokens, std::int64_t streams, std::int64_t unroll);

  std::int64_t streams() const { return streams_; }
  std::int64_t unroll() const { return unroll_; }
  std::int64_t length() const { return length_; }  // L, tokens per row
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }

  // Inputs and targets of step `step` (0 ≤ step < steps_per_epoch) for rows [first, first + count),
  // each written row-major [count, unroll] into the caller's arrays.
  void batch(std::int64_t step, std::int64_t first, std::int64_t count, std::int32_t* inputs,
             std::int32_t* targets) const;

 private:
  std::vector<std::int32_t> tokens_;  // [streams, length], row-major
  std::int64_t streams_, unroll_, length_, steps_per_epoch_;
};

}  // namespace sgdsweep::data
