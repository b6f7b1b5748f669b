// The request body relay (body_relay.h): Content-Length passed as it is, chunked re-written
// canonically (extensions and trailers dropped), any split of the input and any output room
// give the same bytes, bad framing and a body past the limit are refused, discard mode.
#include "sluice/net/proxy/body_relay.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::net {
namespace {

HttpRequest& Parsed(const std::string& head) {
  static HttpRequest request;
  const ParseResult r = ParseRequestHead(head, HttpLimits{}, request);
  EXPECT_EQ(r.status, ParseResult::Status::kComplete) << head;
  return request;
}

struct Outcome {
  std::string out;
  BodyRelay::Event last = BodyRelay::Event::kNeedMore;
  std::size_t consumed = 0;
};

// Feeds `body` in pieces of `piece` bytes with `room` bytes of output per call (drained in
// between), presenting unconsumed bytes again as the contract says.
Outcome Relay(const std::string& head, const std::string& body, std::size_t piece, std::size_t room,
              std::uint64_t max_body = 1 << 20) {
  const std::string head_copy = head;
  BodyRelay relay;
  relay.Start(Parsed(head_copy), max_body);
  Outcome o;
  std::string pending;
  std::size_t fed = 0;
  std::string buffer(room, '\0');
  for (int guard = 0; guard < 100000; ++guard) {
    if (fed < body.size() && (pending.size() < piece || o.last != BodyRelay::Event::kOutputFull)) {
      const std::size_t n = std::min(piece, body.size() - fed);
      pending += body.substr(fed, n);
      fed += n;
    }
    const BodyRelay::Step s = relay.Feed(pending, buffer.data(), buffer.size());
    o.out.append(buffer.data(), s.written);
    o.consumed += s.consumed;
    pending.erase(0, s.consumed);
    o.last = s.event;
    if (s.event == BodyRelay::Event::kDone || s.event == BodyRelay::Event::kError ||
        s.event == BodyRelay::Event::kTooLarge) {
      return o;
    }
    if (s.event == BodyRelay::Event::kNeedMore && fed == body.size() && s.consumed == 0 &&
        s.written == 0) {
      return o;  // starved: the body is incomplete
    }
  }
  ADD_FAILURE() << "no progress";
  return o;
}

constexpr char kChunkedHead[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
constexpr char kLengthHead[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";

TEST(BodyRelayTest, AContentLengthBodyPassesAsItIsAndStopsAtItsEnd) {
  const Outcome o = Relay(kLengthHead, "hello worldGET / HTTP/1.1\r\n", 64, 64);
  EXPECT_EQ(o.last, BodyRelay::Event::kDone);
  EXPECT_EQ(o.out, "hello world");
  EXPECT_EQ(o.consumed, 11u);  // the next request is not the body's
}

TEST(BodyRelayTest, ChunkedIsRewrittenCanonicallyForEverySplitAndRoom) {
  const std::string body =
      "3;a=b\r\nabc\r\n00a\r\n0123456789\r\n0;x=\"y\"\r\nX-Trailer: t\r\n\r\nNEXT";
  const std::string want = "3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n";
  for (std::size_t piece = 1; piece <= body.size(); ++piece) {
    for (const std::size_t room : {std::size_t{22}, std::size_t{25}, std::size_t{64}}) {
      const Outcome o = Relay(kChunkedHead, body, piece, room);
      ASSERT_EQ(o.last, BodyRelay::Event::kDone) << piece << "/" << room;
      // Each piece of data is its own canonical chunk: join the data to compare.
      std::string data;
      std::size_t p = 0;
      for (;;) {
        const std::size_t eol = o.out.find("\r\n", p);
        ASSERT_NE(eol, std::string::npos) << o.out;
        const std::size_t size = std::stoul(o.out.substr(p, eol - p), nullptr, 16);
        EXPECT_EQ(o.out.substr(p, eol - p).find_first_of("ABCDEF; "), std::string::npos);
        if (size == 0) {
          EXPECT_EQ(o.out.substr(eol), "\r\n\r\n");  // no trailers, the end
          break;
        }
        data += o.out.substr(eol + 2, size);
        EXPECT_EQ(o.out.substr(eol + 2 + size, 2), "\r\n");
        p = eol + 4 + size;
      }
      EXPECT_EQ(data, "abc0123456789") << piece << "/" << room;
      EXPECT_EQ(o.consumed, body.size() - 4) << piece << "/" << room;
    }
  }
  EXPECT_EQ(Relay(kChunkedHead, body, 1000, 1000).out, want);
}

TEST(BodyRelayTest, BadFramingIsAnError) {
  for (const std::string bad : {"3\nabc\r\n0\r\n\r\n", "x\r\n", "3\r\nabcX\r\n", " 3\r\nabc\r\n",
                                "3 \r\nabc\r\n0\r\n\r\n", "0x3\r\nabc\r\n"}) {
    EXPECT_EQ(Relay(kChunkedHead, bad, 1000, 1000).last, BodyRelay::Event::kError) << bad;
  }
}

TEST(BodyRelayTest, ABodyPastTheLimitIsTooLarge) {
  EXPECT_EQ(Relay(kChunkedHead, "5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n", 1000, 1000, 9).last,
            BodyRelay::Event::kTooLarge);
  EXPECT_EQ(Relay(kChunkedHead, "5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n", 1000, 1000, 10).last,
            BodyRelay::Event::kDone);
}

TEST(BodyRelayTest, DiscardReadsPastTheBodyAndWritesNothing) {
  const std::string head = kChunkedHead;
  BodyRelay relay;
  relay.Start(Parsed(head), 1 << 20);
  relay.Discard();
  const std::string body = "3\r\nabc\r\n0\r\n\r\nGET";
  const BodyRelay::Step s = relay.Feed(body, nullptr, 0);
  EXPECT_EQ(s.event, BodyRelay::Event::kDone);
  EXPECT_EQ(s.written, 0u);
  EXPECT_EQ(s.consumed, body.size() - 3);
}

TEST(BodyRelayTest, NoBodyIsDoneAtOnce) {
  const std::string head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  BodyRelay relay;
  relay.Start(Parsed(head), 1 << 20);
  EXPECT_TRUE(relay.done());
  char out[8];
  EXPECT_EQ(relay.Feed("GET", out, sizeof out).event, BodyRelay::Event::kDone);
}

}  // namespace
}  // namespace sluice::net
