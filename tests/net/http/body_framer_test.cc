// BodyFramer: split-independent body framing (Content-Length and chunked, at every split and
// against a guard page), its caps and errors at the offending byte; then a randomized
// robustness run of the parser and framer together on mutated valid and invalid requests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_parser_cases.h"
#include "sluice/net/http/http_parser.h"
#include "support/guarded_buffer.h"

namespace sluice::net {
namespace {

using namespace parser_cases;

// ---------------------------------------------------------------------------------------------
// BodyFramer

struct FeedOutcome {
  FramerStatus status;
  std::size_t consumed;  // over all Feed calls
  bool operator==(const FeedOutcome&) const = default;
  friend void PrintTo(const FeedOutcome& o, std::ostream* os) {
    *os << "{status " << static_cast<int>(o.status) << ", consumed " << o.consumed << "}";
  }
};

// Delivers `data` in pieces ending at `cuts` (increasing, the last one data.size()) the way a
// connection would: each Feed sees the bytes received and not yet consumed.
FeedOutcome FeedPieces(const HttpRequest& request, std::string_view data,
                       const std::vector<std::size_t>& cuts) {
  BodyFramer framer;
  framer.Start(request);
  std::size_t consumed = 0;
  for (const std::size_t cut : cuts) {
    const std::string_view pending = data.substr(consumed, cut - consumed);
    const BodyFramer::Result result = framer.Feed(pending);
    EXPECT_LE(result.consumed, pending.size());
    consumed += result.consumed;
    if (result.status == FramerStatus::kNeedMore) {
      EXPECT_EQ(result.consumed, pending.size());
      EXPECT_FALSE(framer.done());
      continue;
    }
    EXPECT_EQ(framer.done(), result.status == FramerStatus::kDone);
    // Once finished, the framer stays finished and takes nothing more.
    const BodyFramer::Result again = framer.Feed(data.substr(consumed));
    EXPECT_EQ(again.status, result.status);
    EXPECT_EQ(again.consumed, 0u);
    return {result.status, consumed};
  }
  return {FramerStatus::kNeedMore, consumed};
}

FeedOutcome FeedWhole(const HttpRequest& request, std::string_view data) {
  return FeedPieces(request, data, {data.size()});
}

FeedOutcome FeedByteByByte(const HttpRequest& request, std::string_view data) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i <= data.size(); ++i) cuts.push_back(i);
  if (cuts.empty()) cuts.push_back(0);
  return FeedPieces(request, data, cuts);
}

FeedOutcome FeedRandomSplit(const HttpRequest& request, std::string_view data, std::mt19937& rng) {
  std::vector<std::size_t> cuts;
  std::size_t at = 0;
  while (at < data.size()) {
    at = std::min(data.size(), at + 1 + rng() % 7);
    cuts.push_back(at);
  }
  if (cuts.empty()) cuts.push_back(0);
  return FeedPieces(request, data, cuts);
}

HttpRequest& ChunkedRequest() {
  static HttpRequest request = [] {
    HttpRequest r;
    r.body = BodyKind::kChunked;
    return r;
  }();
  return request;
}

HttpRequest& LengthRequest(std::uint64_t length) {
  static HttpRequest request;
  request.body = BodyKind::kContentLength;
  request.content_length = length;
  return request;
}

void ExpectSameAtEverySplit(const HttpRequest& request, std::string_view data,
                            FeedOutcome expected) {
  EXPECT_EQ(FeedWhole(request, data), expected);
  EXPECT_EQ(FeedByteByByte(request, data), expected);
  std::mt19937 rng(12345);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(FeedRandomSplit(request, data, rng), expected);
  // Every single cut point.
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    std::vector<std::size_t> cuts{cut};
    if (cut != data.size()) cuts.push_back(data.size());
    ASSERT_EQ(FeedPieces(request, data, cuts), expected) << "cut " << cut;
  }
}

constexpr std::string_view kNext = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

TEST(BodyFramerTest, NoBodyIsDoneAtOnce) {
  auto r = NewRequest();
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", *r).status, Status::kComplete);
  BodyFramer framer;
  framer.Start(*r);
  EXPECT_TRUE(framer.done());
  EXPECT_EQ(framer.Feed(kNext).status, FramerStatus::kDone);
  EXPECT_EQ(framer.Feed(kNext).consumed, 0u);
  BodyFramer fresh;  // a default framer has nothing to skip
  EXPECT_TRUE(fresh.done());
  framer.Start(LengthRequest(0));
  EXPECT_TRUE(framer.done());
}

TEST(BodyFramerTest, ContentLengthAtEverySplit) {
  const std::string body = "hello world";
  ExpectSameAtEverySplit(LengthRequest(body.size()), body + std::string(kNext),
                         {FramerStatus::kDone, body.size()});
  ExpectSameAtEverySplit(LengthRequest(body.size()), body.substr(0, 5),
                         {FramerStatus::kNeedMore, 5});
  // A length above what any buffer holds.
  BodyFramer framer;
  framer.Start(LengthRequest(std::numeric_limits<std::uint64_t>::max()));
  const BodyFramer::Result result = framer.Feed(body);
  EXPECT_EQ(result.status, FramerStatus::kNeedMore);
  EXPECT_EQ(result.consumed, body.size());
}

TEST(BodyFramerTest, ChunkedAtEverySplit) {
  const std::string body =
      "4;ext=1\r\nWiki\r\n"
      "5\r\npedia\r\n"
      "E;a=\"q r\";b\r\n in\r\n\r\nchunks.\r\n"
      "10\r\n0123456789abcdef\r\n"
      "0;last\r\n"
      "X-Trailer: v\r\n"
      "Another:w \t\r\n"
      "\r\n";
  ExpectSameAtEverySplit(ChunkedRequest(), body + std::string(kNext),
                         {FramerStatus::kDone, body.size()});
  // Every strict prefix needs more.
  for (std::size_t n = 0; n < body.size(); ++n) {
    ASSERT_EQ(FeedWhole(ChunkedRequest(), std::string_view(body).substr(0, n)),
              (FeedOutcome{FramerStatus::kNeedMore, n}));
  }
  // Minimal forms.
  ExpectSameAtEverySplit(ChunkedRequest(), "0\r\n\r\n", {FramerStatus::kDone, 5});
  ExpectSameAtEverySplit(ChunkedRequest(), "000\r\n\r\nXYZ", {FramerStatus::kDone, 7});
  ExpectSameAtEverySplit(ChunkedRequest(), "aB\r\n" + std::string(0xab, 'x') + "\r\n0\r\n\r\n",
                         {FramerStatus::kDone, 4 + 0xab + 2 + 5});
}

TEST(BodyFramerTest, SixteenHexDigitsAreAccepted) {
  ExpectSameAtEverySplit(ChunkedRequest(), "ffffffffffffffff\r\nabc",
                         {FramerStatus::kNeedMore, 21});
  ExpectSameAtEverySplit(ChunkedRequest(), "0000000000000001\r\nx\r\n0\r\n\r\n",
                         {FramerStatus::kDone, 26});
}

TEST(BodyFramerTest, MalformedChunkingIsAnErrorAtTheOffendingByte) {
  struct Bad {
    std::string body;
    std::size_t at;  // index of the byte that is refused
  };
  const std::vector<Bad> cases = {
      {"g\r\n", 0},                   // non-hex size
      {"\r\n", 0},                    // empty size
      {";x\r\n", 0},                  // extension without a size
      {"-1\r\n", 0},                  // sign
      {"0x5\r\n", 1},                 // 0x prefix
      {"12345678901234567\r\n", 16},  // 17 hex digits
      {"00000000000000000\r\n", 16},  // 17 digits, even if zero
      {"4 \r\n", 1},                  // space after the size
      {"4\n", 1},                     // bare LF after the size
      {"4\rx", 2},                    // CR without LF
      {"4\r\nWikiX\r\n", 7},          // missing CRLF after data
      {"4\r\nWiki\n0\r\n\r\n", 7},    // bare LF after data
      {"4\r\nWiki\rX", 8},            // CR then not LF
      {"4;a\0b\r\n"s, 3},             // NUL in an extension
      {"4;a\nb\r\n", 3},              // LF in an extension
      {"0\r\n x: y\r\n\r\n", 3},      // obs-fold in trailers
      {"0\r\n: y\r\n\r\n", 3},        // empty trailer name
      {"0\r\nX y\r\n\r\n", 4},        // no colon in trailer
      {"0\r\nX : y\r\n\r\n", 4},      // space before colon
      {"0\r\nX: \0\r\n\r\n"s, 6},     // NUL in a trailer value
      {"0\r\nX: y\n\r\n", 7},         // bare LF after a trailer
      {"0\r\n\n", 3},                 // bare LF as the final line
      {"0\r\n\rX", 4},                // CR then not LF at the end
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    ExpectSameAtEverySplit(ChunkedRequest(), c.body, {FramerStatus::kError, c.at});
  }
}

TEST(BodyFramerTest, ExtensionBytesAreCapped) {
  // kMaxChunkExtBytes counts ';' and the extension bytes of all chunks of the body.
  const std::string at_cap = "1;" + std::string(kMaxChunkExtBytes - 1, 'a') + "\r\nx\r\n0\r\n\r\n";
  ExpectSameAtEverySplit(ChunkedRequest(), at_cap, {FramerStatus::kDone, at_cap.size()});
  const std::string over = "1;" + std::string(kMaxChunkExtBytes, 'a') + "\r\nx\r\n0\r\n\r\n";
  ExpectSameAtEverySplit(ChunkedRequest(), over, {FramerStatus::kError, 1 + kMaxChunkExtBytes});
  const std::string half = ";" + std::string(kMaxChunkExtBytes / 2, 'b');
  const std::string spread = "1" + half + "\r\nx\r\n1" + half + "\r\ny\r\n0\r\n\r\n";
  // The first chunk used half.size() bytes; the second is refused at byte number cap + 1.
  const std::size_t refused = spread.find(half, 2) + (kMaxChunkExtBytes - half.size());
  ExpectSameAtEverySplit(ChunkedRequest(), spread, {FramerStatus::kError, refused});
}

TEST(BodyFramerTest, TrailerBytesAreCapped) {
  // kMaxTrailerBytes counts every byte after the last chunk's CRLF, final CRLF included.
  const auto trailers_of = [](std::size_t total) {
    const std::size_t value = total - 3 - 2 - 2;  // "X: " CRLF, final CRLF
    return "0\r\nX: " + std::string(value, 'v') + "\r\n\r\n";
  };
  const std::string at_cap = trailers_of(kMaxTrailerBytes);
  ExpectSameAtEverySplit(ChunkedRequest(), at_cap, {FramerStatus::kDone, at_cap.size()});
  const std::string over = trailers_of(kMaxTrailerBytes + 1);
  ExpectSameAtEverySplit(ChunkedRequest(), over, {FramerStatus::kError, over.size() - 1});
  std::string many_lines = "0\r\n";
  while (many_lines.size() < kMaxTrailerBytes + 100) many_lines += "A: b\r\n";
  const FeedOutcome outcome = FeedByteByByte(ChunkedRequest(), many_lines + "\r\n");
  EXPECT_EQ(outcome, (FeedOutcome{FramerStatus::kError, 3 + kMaxTrailerBytes}));
}

TEST(BodyFramerTest, RestartsCleanlyForTheNextRequest) {
  BodyFramer framer;
  framer.Start(ChunkedRequest());
  EXPECT_EQ(framer.Feed("zz").status, FramerStatus::kError);
  EXPECT_EQ(framer.Feed("0\r\n\r\n").status, FramerStatus::kError);
  framer.Start(ChunkedRequest());
  EXPECT_EQ(framer.Feed("1;" + std::string(1000, 'e') + "\r\n").status, FramerStatus::kNeedMore);
  EXPECT_EQ(framer.Feed("x\r\n0\r\n\r\n").status, FramerStatus::kDone);
  framer.Start(ChunkedRequest());  // the extension budget starts again
  const BodyFramer::Result result =
      framer.Feed("1;" + std::string(1000, 'e') + "\r\nx\r\n0\r\n\r\n");
  EXPECT_EQ(result.status, FramerStatus::kDone);
  framer.Start(LengthRequest(3));
  EXPECT_EQ(framer.Feed("ab").consumed, 2u);
  const BodyFramer::Result rest = framer.Feed("cGET");
  EXPECT_EQ(rest.status, FramerStatus::kDone);
  EXPECT_EQ(rest.consumed, 1u);
}

TEST(BodyFramerTest, HeadAndBodyAtEverySplitAgainstAGuardPage) {
  // A connection receiving a chunked request then a pipelined one, in random pieces, each piece
  // placed at a guard page.
  const std::string stream = Bytes({
      "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      "3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
      "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz",
      "GET /c HTTP/1.1\r\nHost: a\r\n\r\n",
  });
  GuardedBuffer guard(stream.size());
  std::mt19937 rng(7);
  auto r = NewRequest();
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> paths;
    std::size_t received = 0;
    std::size_t at = 0;  // first byte not consumed
    bool in_body = false;
    BodyFramer framer;
    for (int step = 0; at < stream.size(); ++step) {
      ASSERT_LT(step, 10000);
      if (received == at || rng() % 2 == 0) {
        received = std::min(stream.size(), received + 1 + rng() % 9);
      }
      const std::string_view window =
          guard.Place(std::string_view(stream).substr(at, received - at));
      if (!in_body) {
        const ParseResult head = Parse(window, *r);
        ASSERT_NE(head.status, Status::kError);
        if (head.status == Status::kPartial) continue;
        paths.emplace_back(r->path);
        at += head.consumed;
        framer.Start(*r);
        in_body = true;
        continue;
      }
      const BodyFramer::Result body = framer.Feed(window);
      ASSERT_NE(body.status, FramerStatus::kError);
      at += body.consumed;
      if (body.status == FramerStatus::kDone) in_body = false;
    }
    ASSERT_FALSE(in_body && !framer.done());
    ASSERT_EQ(paths, (std::vector<std::string>{"/a", "/b", "/c"}));
  }
}

// ---------------------------------------------------------------------------------------------
// Robustness

std::string Mutate(std::string s, std::mt19937& rng) {
  static constexpr std::string_view kInteresting = "\r\n\0 \t:;,/?%\x7f\x80\xff"sv;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = s.empty() ? 0 : rng() % s.size();
    const char byte =
        rng() % 2 == 0 ? static_cast<char>(rng() % 256) : kInteresting[rng() % kInteresting.size()];
    switch (rng() % 4) {
      case 0:
        if (!s.empty()) s[at] = byte;
        break;
      case 1:
        if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
        break;
      case 2:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), byte);
        break;
      default:
        if (!s.empty()) s.erase(at, 1 + rng() % 3);
        break;
    }
  }
  return s;
}

TEST(HttpParserRobustnessTest, MutatedRequestsNeverMisbehave) {
  std::vector<std::string> valid;
  for (const auto& c : ValidCases()) valid.push_back(c.input);
  valid.push_back(
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;e=1\r\nWiki\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  valid.push_back(
      "POST /y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n");
  std::vector<std::string> invalid;
  for (const auto& c : ErrorCases()) {
    if (c.input.size() < 512) invalid.push_back(c.input);
  }
  GuardedBuffer guard(4096);
  std::mt19937 rng(20240601);
  auto r = NewRequest();
  HttpLimits tight;
  tight.max_header_bytes = 96;
  tight.max_headers = 4;
  tight.max_uri_bytes = 16;
  std::size_t counts[3] = {};
  for (int iteration = 0; iteration < 20000; ++iteration) {
    const auto& seeds = rng() % 4 == 0 ? invalid : valid;
    const std::string input = Mutate(seeds[rng() % seeds.size()], rng);
    const std::string_view placed = guard.Place(input);
    for (const HttpLimits& limits : {HttpLimits{}, tight}) {
      const ParseResult result = Parse(placed, *r, limits);
      ASSERT_LE(result.consumed, input.size());
      ++counts[static_cast<int>(result.status)];
      switch (result.status) {
        case Status::kComplete: {
          ASSERT_GT(result.consumed, 0u);
          ASSERT_EQ(result.error, ParseError::kNone);
          ASSERT_LE(result.consumed, limits.max_header_bytes);
          ASSERT_LE(r->header_count, std::min(limits.max_headers, kMaxHeaders));
          // The body framer agrees with itself however the rest arrives.
          const std::string_view rest = placed.substr(result.consumed);
          const FeedOutcome whole = FeedWhole(*r, rest);
          ASSERT_LE(whole.consumed, rest.size());
          ASSERT_EQ(FeedByteByByte(*r, rest), whole);
          ASSERT_EQ(FeedRandomSplit(*r, rest, rng), whole);
          // A head found by mutation is a valid head: alone it is complete, every strict prefix
          // of it is partial.
          const std::size_t head = result.consumed;
          ASSERT_EQ(Parse(guard.Place(input.substr(0, head)), *r, limits).consumed, head);
          for (std::size_t n = 0; n < head; ++n) {
            ASSERT_EQ(Parse(guard.Place(input.substr(0, n)), *r, limits).status, Status::kPartial)
                << n;
          }
          break;
        }
        case Status::kPartial:
          ASSERT_EQ(result.consumed, 0u);
          ASSERT_EQ(result.error, ParseError::kNone);
          break;
        case Status::kError: {
          ASSERT_EQ(result.consumed, 0u);
          ASSERT_NE(result.error, ParseError::kNone);
          const int status = StatusFor(result.error);
          ASSERT_TRUE(status == 400 || status == 414 || status == 431 || status == 501 ||
                      status == 505);
          break;
        }
        default:
          FAIL() << "unknown status";
      }
    }
  }
  RecordProperty("complete", static_cast<int>(counts[0]));
  RecordProperty("partial", static_cast<int>(counts[1]));
  RecordProperty("error", static_cast<int>(counts[2]));
  // The mutations reach every answer.
  EXPECT_GT(counts[0], 1000u);
  EXPECT_GT(counts[1], 100u);
  EXPECT_GT(counts[2], 1000u);
}

}  // namespace
}  // namespace sluice::net
