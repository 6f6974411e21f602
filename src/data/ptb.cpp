// Penn Treebank reader, vocabulary, encoding and the parallel token streams.
#include "data/ptb.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <utility>

#include "util/error.hpp"

namespace sgdsweep::data {
namespace {

// The byte offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
// above U+10FFFF included), or −1 if the text is valid.
std::int64_t invalid_utf8_offset(const std::string& text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::int64_t size = static_cast<std::int64_t>(text.size());
  std::int64_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    std::int64_t extra = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the first continuation byte
    if (lead < 0x80) {
      ++i;
      continue;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2;
      if (lead == 0xE0) low = 0xA0;   // no overlong 3-byte forms
      if (lead == 0xED) high = 0x9F;  // no UTF-16 surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3;
      if (lead == 0xF0) low = 0x90;   // no overlong 4-byte forms
      if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + extra >= size) return i;  // cut off by the end of the file
    for (std::int64_t k = 1; k <= extra; ++k) {
      const unsigned char c = bytes[i + k];
      const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
      if (c < lo || c > hi) return i;
    }
    i += extra + 1;
  }
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

const char* const kEndOfSentence = "<eos>";
const char* const kUnknown = "<unk>";

}  // namespace

std::vector<std::string> read_ptb_words(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    fail(path, ": missing Penn Treebank text file (the genuine ptb.valid.txt and ptb.test.txt are "
         "in ../shared/data/ptb)");
  }
  if (std::filesystem::is_directory(path, error)) fail(path, ": is a folder, not a text file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (unreadable)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, ": read error");

  const std::size_t nul = text.find('\0');
  if (nul != std::string::npos) fail(path, ": not a text file (NUL byte at byte offset ", nul, ")");
  const std::int64_t bad = invalid_utf8_offset(text);
  if (bad >= 0) fail(path, ": not a text file (invalid UTF-8 at byte offset ", bad, ")");

  std::vector<std::string> words;
  std::int64_t real_words = 0;  // words other than the "<eos>" we add
  std::size_t i = 0;
  bool line_has_words = false;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      words.emplace_back(kEndOfSentence);
      line_has_words = false;
      ++i;
    } else if (is_space(c)) {
      ++i;
    } else {
      std::size_t end = i;
      while (end < text.size() && text[end] != '\n' && !is_space(text[end])) ++end;
      words.emplace_back(text, i, end - i);
      ++real_words;
      line_has_words = true;
      i = end;
    }
  }
  if (line_has_words) words.emplace_back(kEndOfSentence);
  if (real_words == 0) {
    fail(path, ": no words (the file is ", text.empty() ? "empty" : "blank",
         "); expected Penn Treebank text, one sentence per line");
  }
  return words;
}

std::int32_t Vocabulary::index_of(const std::string& word) const {
  if (ids_.size() != words.size()) {
    fail("Vocabulary: its ", words.size(), " words were changed after it was built (", ids_.size(),
         " indexed); make it with build_vocabulary or Vocabulary::from_words");
  }
  const auto found = ids_.find(word);
  return found == ids_.end() ? -1 : found->second;
}

Vocabulary Vocabulary::from_words(std::vector<std::string> words) {
  if (words.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    fail("Vocabulary: ", words.size(), " words do not fit int32 ids");
  }
  Vocabulary vocabulary;
  for (std::size_t id = 0; id < words.size(); ++id) {
    if (!vocabulary.ids_.emplace(words[id], static_cast<std::int32_t>(id)).second) {
      fail("Vocabulary: word '", words[id], "' appears twice (ids ", vocabulary.ids_[words[id]],
           " and ", id, ")");
    }
  }
  vocabulary.words = std::move(words);
  vocabulary.unknown = vocabulary.index_of(kUnknown);
  return vocabulary;
}

Vocabulary build_vocabulary(const std::vector<std::string>& training_words) {
  std::unordered_map<std::string, std::int64_t> counts;
  for (const std::string& word : training_words) ++counts[word];
  std::vector<std::pair<std::string, std::int64_t>> ranked(counts.begin(), counts.end());
  // A total order (count descending, then bytes ascending), so the result does not depend on the
  // hash map's iteration order.
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words;
  words.reserve(ranked.size());
  for (auto& [word, count] : ranked) words.push_back(std::move(word));
  return Vocabulary::from_words(std::move(words));
}

std::vector<std::int32_t> encode(const std::vector<std::string>& words, const Vocabulary& vocabulary,
                                 const std::string& source, std::int64_t* unknown_words) {
  std::vector<std::int32_t> ids(words.size());
  std::int64_t unknown = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::int32_t id = vocabulary.index_of(words[i]);
    if (id < 0) {
      if (vocabulary.unknown < 0) {
        fail(source, ": word '", words[i], "' (word ", i, ") is not in the ", vocabulary.size(),
             "-word vocabulary, which has no ", kUnknown, " to stand for it");
      }
      id = vocabulary.unknown;
      ++unknown;
    }
    ids[i] = id;
  }
  if (unknown_words) *unknown_words = unknown;
  return ids;
}

TokenStreams::TokenStreams(std::vector<std::int32_t> tokens, std::int64_t streams,
                           std::int64_t unroll)
    : streams_(streams), unroll_(unroll), length_(0), steps_per_epoch_(0) {
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (streams < 1 || unroll < 1) {
    fail("token streams: streams (", streams, ") and unroll (", unroll, ") must be ≥ 1");
  }
  length_ = n / streams;
  steps_per_epoch_ = length_ >= 1 ? (length_ - 1) / unroll : 0;
  if (steps_per_epoch_ < 1) {
    fail("token streams: ", n, " tokens in ", streams, " streams of ", length_,
         " tokens give no step of unroll ", unroll, " (need at least streams·(unroll + 1) = ",
         streams * (unroll + 1), " tokens)");
  }
  tokens.resize(static_cast<std::size_t>(streams * length_));
  tokens_ = std::move(tokens);
}

void TokenStreams::batch(std::int64_t step, std::int64_t first, std::int64_t count,
                         std::int32_t* inputs, std::int32_t* targets) const {
  if (step < 0 || step >= steps_per_epoch_) {
    fail("token streams: step ", step, " outside 0 … ", steps_per_epoch_ - 1);
  }
  if (first < 0 || count < 0 || first + count > streams_) {
    fail("token streams: rows [", first, ", ", first + count, ") outside the ", streams_,
         " streams");
  }
  for (std::int64_t row = 0; row < count; ++row) {
    const std::int32_t* source = tokens_.data() + (first + row) * length_ + step * unroll_;
    std::copy(source, source + unroll_, inputs + row * unroll_);
    std::copy(source + 1, source + 1 + unroll_, targets + row * unroll_);
  }
}

}  // namespace sgdsweep::data
