// The Penn Treebank reader, vocabulary and token streams on text the test writes: <eos> insertion,
// vocabulary order and ties, <unk> handling, the stream layout worked out by hand, and bad files.
#include <gtest/gtest.h>

#include <fstream>

#include "data/ptb.hpp"
#include "test_support.hpp"

namespace {

using sgdsweep::data::build_vocabulary;
using sgdsweep::data::encode;
using sgdsweep::data::read_ptb_words;
using sgdsweep::data::TokenStreams;
using sgdsweep::data::Vocabulary;
using sgdsweep::testing::expect_error;
using sgdsweep::testing::TemporaryFolder;
using Words = std::vector<std::string>;
using Ids = std::vector<std::int32_t>;

std::string write_text(const TemporaryFolder& folder, const std::string& name,
                       const std::string& text) {
  const std::string path = folder.file(name);
  std::ofstream(path, std::ios::binary).write(text.data(), static_cast<std::streamsize>(text.size()));
  return path;
}

}  // namespace

TEST(Ptb, EveryLineEndsWithEos) {
  TemporaryFolder folder;
  // The genuine files' shape (a leading space, <unk> and N as words), a blank line, CRLF, tabs and
  // a last line without its newline.
  const std::string path = write_text(folder, "ptb.txt",
      " the <unk> rose N \n\n  a\tb c\r\n d");
  EXPECT_EQ(read_ptb_words(path),
            (Words{"the", "<unk>", "rose", "N", "<eos>", "<eos>", "a", "b", "c", "<eos>", "d",
                   "<eos>"}));
  // A trailing newline does not add a second <eos>; trailing blanks add nothing.
  EXPECT_EQ(read_ptb_words(write_text(folder, "two.txt", "x y\nz\n  ")),
            (Words{"x", "y", "<eos>", "z", "<eos>"}));
  // UTF-8 words are words.
  EXPECT_EQ(read_ptb_words(write_text(folder, "utf8.txt", "caf\xC3\xA9 \xE2\x82\xAC\n")),
            (Words{"caf\xC3\xA9", "\xE2\x82\xAC", "<eos>"}));
}

TEST(Ptb, VocabularyOrdersByCountThenBytes) {
  // Counts: b 3, a 2; then "<unk>", "B", "c", "d" once each, in byte order ('<' < 'B' < 'c' < 'd').
  const Vocabulary vocabulary =
      build_vocabulary({"b", "a", "d", "b", "c", "a", "b", "<unk>", "B"});
  EXPECT_EQ(vocabulary.words, (Words{"b", "a", "<unk>", "B", "c", "d"}));
  EXPECT_EQ(vocabulary.size(), 6);
  EXPECT_EQ(vocabulary.unknown, 2);
  EXPECT_EQ(vocabulary.index_of("b"), 0);
  EXPECT_EQ(vocabulary.index_of("c"), 4);
  EXPECT_EQ(vocabulary.index_of("zebra"), -1);
  EXPECT_EQ(build_vocabulary({"x", "y"}).unknown, -1);
  // The order is a function of the multiset of words, not of the order they came in.
  EXPECT_EQ(build_vocabulary({"B", "<unk>", "b", "a", "c", "b", "d", "a", "b"}).words,
            vocabulary.words);
  expect_error([] { Vocabulary::from_words({"a", "b", "a"}); }, {"'a' appears twice"});

  // Many ties (too many for a sort to keep the input order by accident): 60 words "w00" … "w59"
  // fed in descending order, once each, then "w30" twice more.
  Words many;
  for (int k = 59; k >= 0; --k) many.push_back((k < 10 ? "w0" : "w") + std::to_string(k));
  many.push_back("w30");
  many.push_back("w30");
  const Vocabulary ranked = build_vocabulary(many);
  ASSERT_EQ(ranked.size(), 60);
  EXPECT_EQ(ranked.words[0], "w30");
  for (std::int64_t id = 2; id < 60; ++id) {
    EXPECT_LT(ranked.words[id - 1], ranked.words[id]) << "ids " << id - 1 << ", " << id;
  }
}

TEST(Ptb, EncodeReplacesUnknownWordsAndCountsThem) {
  const Vocabulary vocabulary = build_vocabulary({"a", "a", "<unk>", "b", "a", "b"});  // a b <unk>
  ASSERT_EQ(vocabulary.words, (Words{"a", "b", "<unk>"}));
  std::int64_t unknown_words = -1;
  EXPECT_EQ(encode({"a", "x", "b", "<unk>", "y", "x"}, vocabulary, "test.txt", &unknown_words),
            (Ids{0, 2, 1, 2, 2, 2}));
  EXPECT_EQ(unknown_words, 3);  // x, y, x; the literal <unk> is a known word
  EXPECT_EQ(encode({"b", "a"}, vocabulary, "test.txt", &unknown_words), (Ids{1, 0}));
  EXPECT_EQ(unknown_words, 0);
  EXPECT_EQ(encode({"q"}, vocabulary, "test.txt", nullptr), (Ids{2}));
}

TEST(Ptb, EncodeWithoutUnkNamesTheWordAndTheSource) {
  const Vocabulary vocabulary = build_vocabulary({"a", "b"});
  std::int64_t unknown_words = 0;
  expect_error([&] { encode({"a", "b", "zebra", "yak"}, vocabulary, "ptb.test.txt", &unknown_words); },
               {"ptb.test.txt", "'zebra'", "word 2", "no <unk>"});
}

TEST(Ptb, TokenStreamsLayoutByHand) {
  // 23 tokens 100 … 122, 2 streams, unroll 3: L = 11, rows 100 … 110 and 111 … 121 (122 dropped),
  // floor((11 − 1) / 3) = 3 steps.
  Ids tokens;
  for (std::int32_t t = 100; t < 123; ++t) tokens.push_back(t);
  const TokenStreams streams(tokens, 2, 3);
  EXPECT_EQ(streams.streams(), 2);
  EXPECT_EQ(streams.unroll(), 3);
  EXPECT_EQ(streams.length(), 11);
  EXPECT_EQ(streams.steps_per_epoch(), 3);

  const Ids expected_inputs[3] = {{100, 101, 102, 111, 112, 113},
                                  {103, 104, 105, 114, 115, 116},
                                  {106, 107, 108, 117, 118, 119}};
  const Ids expected_targets[3] = {{101, 102, 103, 112, 113, 114},
                                   {104, 105, 106, 115, 116, 117},
                                   {107, 108, 109, 118, 119, 120}};
  for (int step = 0; step < 3; ++step) {
    Ids inputs(6, -1), targets(6, -1);
    streams.batch(step, 0, 2, inputs.data(), targets.data());
    EXPECT_EQ(inputs, expected_inputs[step]) << "step " << step;
    EXPECT_EQ(targets, expected_targets[step]) << "step " << step;
  }
  // Stream 1 alone (a rank holding part of the batch).
  Ids inputs(3, -1), targets(3, -1);
  streams.batch(2, 1, 1, inputs.data(), targets.data());
  EXPECT_EQ(inputs, (Ids{117, 118, 119}));
  EXPECT_EQ(targets, (Ids{118, 119, 120}));

  expect_error([&] { streams.batch(3, 0, 2, inputs.data(), targets.data()); }, {"step 3", "0 … 2"});
  expect_error([&] { streams.batch(0, 1, 2, inputs.data(), targets.data()); }, {"rows [1, 3)", "2 streams"});
}

TEST(Ptb, TooFewTokensForOneStepAreRejected) {
  // streams·(unroll + 1) = 8 tokens give exactly one step; 7 give none.
  EXPECT_EQ(TokenStreams(Ids(8, 1), 2, 3).steps_per_epoch(), 1);
  expect_error([] { TokenStreams(Ids(7, 1), 2, 3); },
               {"7 tokens", "2 streams", "unroll 3", "at least streams·(unroll + 1) = 8"});
  expect_error([] { TokenStreams(Ids(50, 1), 0, 3); }, {"streams (0)"});
}

TEST(Ptb, EmptyMissingAndNonTextFilesAreRejected) {
  TemporaryFolder folder;
  expect_error([&] { read_ptb_words(write_text(folder, "empty.txt", "")); },
               {"empty.txt", "no words", "empty"});
  expect_error([&] { read_ptb_words(write_text(folder, "blank.txt", "\n  \n\t\n")); },
               {"blank.txt", "no words", "blank"});
  expect_error([&] { read_ptb_words(folder.file("ptb.train.txt")); },
               {"ptb.train.txt", "missing", "../shared/data/ptb"});
  expect_error([&] { read_ptb_words(write_text(folder, "nul.bin", std::string("ab c\0d\n", 7))); },
               {"nul.bin", "not a text file", "NUL byte at byte offset 4"});
  expect_error([&] { read_ptb_words(write_text(folder, "latin1.txt", "ok\ncaf\xE9 au lait\n")); },
               {"latin1.txt", "not a text file", "invalid UTF-8 at byte offset 6"});
  expect_error([&] { read_ptb_words(write_text(folder, "overlong.txt", "a \xC0\x80")); },
               {"overlong.txt", "invalid UTF-8 at byte offset 2"});
  expect_error([&] { read_ptb_words(write_text(folder, "overlong3.txt", "\xE0\x80\x80\n")); },
               {"overlong3.txt", "invalid UTF-8 at byte offset 0"});
  expect_error([&] { read_ptb_words(write_text(folder, "surrogate.txt", "x\xED\xA0\x80\n")); },
               {"surrogate.txt", "invalid UTF-8 at byte offset 1"});
  expect_error([&] { read_ptb_words(write_text(folder, "cut.txt", "euro \xE2\x82")); },
               {"cut.txt", "invalid UTF-8 at byte offset 5"});
  expect_error([&] { read_ptb_words(folder.path().string()); }, {"folder, not a text file"});
}
