// ChunkedDecoder and the canonical chunk encoder: exact events on valid bodies, the same data
// for every split of the input, every prefix partial against a guard page, each smuggling
// variant of chunk framing refused (research S10-S13), and decode(encode(x)) == x.
#include "sluice/net/http/chunked.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/guarded_buffer.h"

namespace sluice::net {
namespace {

using Event = ChunkedDecoder::Event;
using testing::GuardedBuffer;

struct Decoded {
  bool done = false;
  bool error = false;
  std::string data;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::size_t consumed = 0;  // input bytes used up to kDone
};

// Feeds `input` in pieces of the given sizes (the last piece takes the rest), keeping what the
// decoder did not consume in front of the next piece, as a connection buffer would.
Decoded DecodeSplit(std::string_view input, const std::vector<std::size_t>& pieces) {
  ChunkedDecoder decoder;
  decoder.Reset();
  Decoded out;
  std::string pending;
  std::size_t offset = 0;
  std::size_t piece = 0;
  for (;;) {
    const std::size_t n = piece < pieces.size() ? std::min(pieces[piece], input.size() - offset)
                                                : input.size() - offset;
    ++piece;
    pending.append(input.substr(offset, n));
    offset += n;
    std::string_view view = pending;
    std::size_t used = 0;
    for (;;) {
      const ChunkedDecoder::Step step = decoder.Next(view);
      EXPECT_LE(step.consumed, view.size());
      view.remove_prefix(step.consumed);
      used += step.consumed;
      if (step.event == Event::kData) {
        EXPECT_FALSE(step.data.empty());
        out.data.append(step.data);
        continue;
      }
      if (step.event == Event::kTrailer) {
        out.trailers.emplace_back(step.trailer.name, step.trailer.value);
        continue;
      }
      if (step.event == Event::kDone) {
        out.done = true;
        out.consumed += used;
        return out;
      }
      if (step.event == Event::kError) {
        EXPECT_EQ(step.consumed, 0u);
        out.error = true;
        return out;
      }
      break;  // kNeedMore
    }
    out.consumed += used;
    pending.erase(0, used);
    if (offset == input.size()) return out;  // starved at the end
  }
}

Decoded Decode(std::string_view input) { return DecodeSplit(input, {input.size()}); }

TEST(ChunkedTest, DecodesDataAndTrailers) {
  const std::string body =
      "5\r\nhello\r\n"
      "1A;name=value;flag;q=\"a \\\"b\\\"\"\r\n" +
      std::string(26, 'x') +
      "\r\n"
      "0\r\n"
      "X-Checksum: abc \r\n"
      "Server-Timing: db;dur=1\r\n"
      "\r\n";
  const Decoded d = Decode(body + "NEXT");
  ASSERT_TRUE(d.done);
  EXPECT_EQ(d.data, "hello" + std::string(26, 'x'));
  EXPECT_EQ(d.consumed, body.size());
  ASSERT_EQ(d.trailers.size(), 2u);
  EXPECT_EQ(d.trailers[0].first, "X-Checksum");
  EXPECT_EQ(d.trailers[0].second, "abc");
  EXPECT_EQ(d.trailers[1].second, "db;dur=1");
}

TEST(ChunkedTest, EmptyBodyAndStickyEnd) {
  ChunkedDecoder decoder;
  decoder.Reset();
  ChunkedDecoder::Step step = decoder.Next("0\r\n\r\nGET");
  EXPECT_EQ(step.event, Event::kDone);
  EXPECT_EQ(step.consumed, 5u);
  EXPECT_TRUE(decoder.done());
  step = decoder.Next("GET");
  EXPECT_EQ(step.event, Event::kDone);
  EXPECT_EQ(step.consumed, 0u);
}

TEST(ChunkedTest, DataIsHandedOutAsItArrives) {
  ChunkedDecoder decoder;
  decoder.Reset();
  ChunkedDecoder::Step step = decoder.Next("a\r\nabc");
  ASSERT_EQ(step.event, Event::kData);
  EXPECT_EQ(step.data, "abc");
  EXPECT_EQ(step.consumed, 6u);
  EXPECT_EQ(decoder.chunk_remaining(), 7u);
  step = decoder.Next("");
  EXPECT_EQ(step.event, Event::kNeedMore);
  step = decoder.Next("defghij\r");
  ASSERT_EQ(step.event, Event::kData);
  EXPECT_EQ(step.data, "defghij");
  step = decoder.Next("\r");  // half of the CRLF: not consumed
  EXPECT_EQ(step.event, Event::kNeedMore);
  EXPECT_EQ(step.consumed, 0u);
  step = decoder.Next("\r\n0\r\n\r\n");
  EXPECT_EQ(step.event, Event::kDone);
  EXPECT_EQ(step.consumed, 7u);
}

const std::vector<std::string>& ValidBodies() {
  static const std::vector<std::string> bodies = {
      "0\r\n\r\n",
      "3\r\nabc\r\n0\r\n\r\n",
      "3;x=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0;last\r\nA: b\r\n\r\n",
      "00003\r\nabc\r\n0000\r\n\r\n",
      "F\r\n" + std::string(15, 'z') + "\r\n0; e = \"q\\\\\"\r\n\r\n",
  };
  return bodies;
}

TEST(ChunkedTest, EverySplitGivesTheSameResult) {
  std::mt19937 rng(12);
  for (const std::string& body : ValidBodies()) {
    const Decoded whole = Decode(body);
    ASSERT_TRUE(whole.done) << body;
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
      const Decoded two = DecodeSplit(body, {cut});
      EXPECT_TRUE(two.done) << cut;
      EXPECT_EQ(two.data, whole.data);
      EXPECT_EQ(two.trailers, whole.trailers);
      EXPECT_EQ(two.consumed, body.size());
    }
    for (int round = 0; round < 200; ++round) {
      std::vector<std::size_t> pieces;
      for (std::size_t total = 0; total < body.size();) {
        const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 4)(rng);
        pieces.push_back(n);
        total += n;
      }
      const Decoded split = DecodeSplit(body, pieces);
      EXPECT_TRUE(split.done);
      EXPECT_EQ(split.data, whole.data);
    }
  }
}

TEST(ChunkedTest, EveryPrefixIsPartialAgainstAGuardPage) {
  GuardedBuffer guard(4096);
  for (const std::string& body : ValidBodies()) {
    for (std::size_t n = 0; n < body.size(); ++n) {
      ChunkedDecoder decoder;
      decoder.Reset();
      std::string_view view = guard.Place(std::string_view(body).substr(0, n));
      for (;;) {
        const ChunkedDecoder::Step step = decoder.Next(view);
        ASSERT_NE(step.event, Event::kError) << n << " of " << body;
        ASSERT_NE(step.event, Event::kDone) << n << " of " << body;
        view.remove_prefix(step.consumed);
        if (step.event == Event::kNeedMore) break;
      }
    }
  }
}

TEST(ChunkedTest, RefusesEveryAmbiguousFraming) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // S10: chunk sizes.
      {"hex_prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
      {"plus", "+5\r\nhello\r\n0\r\n\r\n"},
      {"minus", "-5\r\nhello\r\n0\r\n\r\n"},
      {"leading_space", " 5\r\nhello\r\n0\r\n\r\n"},
      {"trailing_space", "5 \r\nhello\r\n0\r\n\r\n"},
      {"space_before_ext", "5 ;a\r\nhello\r\n0\r\n\r\n"},
      {"space_after_ext", "5;a \r\nhello\r\n0\r\n\r\n"},
      {"underscore", "5_0\r\nhello\r\n0\r\n\r\n"},
      {"empty_size", "\r\nhello\r\n0\r\n\r\n"},
      {"seventeen_digits", "00000000000000005\r\nhello\r\n0\r\n\r\n"},
      {"overflow", "10000000000000000\r\nhello\r\n0\r\n\r\n"},
      // S11: extensions.
      {"ext_bare_lf", "5;a\nhello\r\n0\r\n\r\n"},
      {"ext_bare_cr", "5;a\rb\r\nhello\r\n0\r\n\r\n"},
      {"ext_nul", std::string("5;a\0\r\nhello\r\n0\r\n\r\n", 19)},
      {"ext_unbalanced_quote", "5;a=\"b\r\nhello\r\n0\r\n\r\n"},
      {"ext_bare_semicolon", "5;\r\nhello\r\n0\r\n\r\n"},
      {"ext_empty_value", "5;a=\r\nhello\r\n0\r\n\r\n"},
      {"ext_too_long", "5;a=" + std::string(kMaxChunkExtBytes, 'b') + "\r\nhello\r\n0\r\n\r\n"},
      // S12: the CRLF after the data.
      {"data_lf", "5\r\nhello\n0\r\n\r\n"},
      {"data_cr", "5\r\nhello\r0\r\n\r\n"},
      {"data_xx", "5\r\nhelloXX0\r\n\r\n"},
      {"data_missing_crlf", "5\r\nhello0\r\n\r\n"},
      {"data_longer", "5\r\nhello!\r\n0\r\n\r\n"},
      {"size_line_bare_lf", "5\nhello\r\n0\r\n\r\n"},
      // S13: the last chunk and trailers.
      {"last_chunk_bare_lf", "0\n\r\n"},
      {"final_bare_lf", "0\r\n\n"},
      {"trailer_bare_lf", "0\r\nA: b\n\r\n"},
      {"trailer_obs_fold", "0\r\nA: b\r\n c\r\n\r\n"},
      {"trailer_space_before_colon", "0\r\nA : b\r\n\r\n"},
      {"trailer_no_colon", "0\r\nAb\r\n\r\n"},
      {"trailer_nul", std::string("0\r\nA: \0\r\n\r\n", 11)},
      {"trailers_too_long", "0\r\nA: " + std::string(kMaxTrailerBytes, 'b') + "\r\n\r\n"},
  };
  GuardedBuffer guard(kMaxTrailerBytes + 4096);
  for (const auto& [name, body] : cases) {
    const Decoded whole = Decode(guard.Place(body));
    EXPECT_TRUE(whole.error) << name;
    EXPECT_FALSE(whole.done) << name;
    // Split anywhere: still refused, never done.
    for (std::size_t cut = 0; cut <= body.size(); cut += 1 + body.size() / 64) {
      const Decoded split = DecodeSplit(body, {cut});
      EXPECT_TRUE(split.error) << name << " cut at " << cut;
    }
  }
}

TEST(ChunkedTest, SizesUpToSixteenDigits) {
  ChunkedDecoder decoder;
  decoder.Reset();
  const ChunkedDecoder::Step step = decoder.Next("ffffffffffffffff\r\nab");
  ASSERT_EQ(step.event, Event::kData);
  EXPECT_EQ(decoder.chunk_remaining(), UINT64_MAX - 2);
}

TEST(ChunkedTest, WriteChunkSizeIsCanonical) {
  char out[kMaxChunkSizeLine];
  const auto write = [&](std::uint64_t size) {
    return std::string(out, WriteChunkSize(size, out));
  };
  EXPECT_EQ(write(1), "1\r\n");
  EXPECT_EQ(write(15), "f\r\n");
  EXPECT_EQ(write(16), "10\r\n");
  EXPECT_EQ(write(0xABCDEF), "abcdef\r\n");
  EXPECT_EQ(write(UINT64_MAX), "ffffffffffffffff\r\n");
  EXPECT_EQ(write(UINT64_MAX).size(), kMaxChunkSizeLine);
}

TEST(ChunkedTest, DecodeOfEncodeIsIdentity) {
  std::mt19937 rng(7);
  for (int round = 0; round < 100; ++round) {
    std::string data;
    std::string encoded;
    const int chunks = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int i = 0; i < chunks; ++i) {
      const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 300)(rng);
      std::string chunk(n, '\0');
      for (char& c : chunk) c = static_cast<char>(rng());
      char line[kMaxChunkSizeLine];
      encoded.append(line, WriteChunkSize(n, line));
      encoded.append(chunk).append(kChunkDataEnd);
      data.append(chunk);
    }
    encoded.append(kLastChunk).append("A: 1\r\n").append(kChunkedEnd);
    const Decoded d = Decode(encoded);
    ASSERT_TRUE(d.done);
    EXPECT_EQ(d.data, data);
    ASSERT_EQ(d.trailers.size(), 1u);
    EXPECT_EQ(d.consumed, encoded.size());
  }
}

}  // namespace
}  // namespace sluice::net
