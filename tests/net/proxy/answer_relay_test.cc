// The upstream answer relay (answer_relay.h): what the client gets for each framing (RFC 9112
// section 6.3) and client version, identical for every split of the upstream's bytes and
// for small output rooms; interim answers; malformed answers; the end of a close-delimited
// body; whether the upstream connection may be pooled.
#include "sluice/net/proxy/answer_relay.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace sluice::net {
namespace {

struct Outcome {
  std::string out;
  AnswerRelay::Event last = AnswerRelay::Event::kNeedMore;
  std::size_t consumed = 0;
  bool reusable = false;
  bool close_client = false;
  bool sent_any = false;
};

struct Options {
  bool head = false;
  int minor = 1;
  bool keep_alive = true;
  bool trailers = false;
  bool eof = false;  // the upstream closes after its bytes
  std::size_t piece = 1 << 20;
  std::size_t room = 1 << 16;
};

Outcome Relay(const std::string& upstream, const Options& o = {}) {
  AnswerRelay relay;
  AnswerRelay::Setup setup;
  setup.head_request = o.head;
  setup.client.minor_version = o.minor;
  setup.client.keep_alive = o.keep_alive;
  setup.trailers = o.trailers;
  setup.extra = "X-Extra: 1\r\n";
  relay.Start(setup);
  auto scratch = std::make_unique<HttpResponse>();
  Outcome r;
  std::string pending;
  std::size_t fed = 0;
  std::string buffer(o.room, '\0');
  for (int guard = 0; guard < 200000; ++guard) {
    if (fed < upstream.size()) {
      const std::size_t n = std::min(o.piece, upstream.size() - fed);
      pending += upstream.substr(fed, n);
      fed += n;
    }
    AnswerRelay::Step s =
        relay.Feed(pending, buffer.data(), buffer.size(), !r.out.empty(), *scratch);
    if (s.event == AnswerRelay::Event::kNeedMore && o.eof && fed == upstream.size() &&
        s.consumed == pending.size()) {
      const AnswerRelay::Step end = relay.End(buffer.data() + s.written, buffer.size() - s.written);
      s.written += end.written;
      s.event = end.event;
    }
    r.out.append(buffer.data(), s.written);
    r.consumed += s.consumed;
    pending.erase(0, s.consumed);
    r.last = s.event;
    if (s.event == AnswerRelay::Event::kDone || s.event == AnswerRelay::Event::kError) break;
    if (s.event == AnswerRelay::Event::kNeedMore && fed == upstream.size() && s.consumed == 0 &&
        s.written == 0) {
      break;  // starved
    }
  }
  r.reusable = relay.reusable();
  r.close_client = relay.close_client();
  r.sent_any = relay.sent_any();
  return r;
}

std::string Body(const std::string& out) { return out.substr(out.find("\r\n\r\n") + 4); }

TEST(AnswerRelayTest, ContentLengthPassesAndThePoolMayKeepTheConnection) {
  const Outcome o = Relay("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloEXTRA");
  EXPECT_EQ(o.last, AnswerRelay::Event::kDone);
  EXPECT_EQ(o.out, "HTTP/1.1 200 OK\r\nX-A: b\r\nX-Extra: 1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(o.consumed, std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello")
                            .size());  // not EXTRA
  EXPECT_TRUE(o.reusable);
  EXPECT_FALSE(o.close_client);
}

TEST(AnswerRelayTest, EverySplitAndSmallRoomsGiveTheSameBytes) {
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;x=y\r\nhello\r\n006\r\n world\r\n0\r\nX-T: 1\r\nContent-Length: 9\r\n\r\n";
  Options big;
  big.trailers = true;
  const Outcome whole = Relay(chunked, big);
  ASSERT_EQ(whole.last, AnswerRelay::Event::kDone);
  EXPECT_EQ(Body(whole.out), "5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n");
  EXPECT_NE(whole.out.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  for (std::size_t piece = 1; piece <= chunked.size(); piece += 3) {
    for (const std::size_t room : {std::size_t{128}, std::size_t{200}}) {
      Options o = big;
      o.piece = piece;
      o.room = room;
      const Outcome r = Relay(chunked, o);
      ASSERT_EQ(r.last, AnswerRelay::Event::kDone) << piece << "/" << room;
      // Small rooms split the data into more chunks: compare the decoded data.
      std::string data;
      const std::string body = Body(r.out);
      std::size_t p = 0;
      for (;;) {
        const std::size_t eol = body.find("\r\n", p);
        ASSERT_NE(eol, std::string::npos);
        const std::size_t size = std::stoul(body.substr(p, eol - p), nullptr, 16);
        if (size == 0) break;
        data += body.substr(eol + 2, size);
        p = eol + 4 + size;
      }
      EXPECT_EQ(data, "hello world") << piece << "/" << room;
      EXPECT_TRUE(r.reusable);
    }
  }
}

TEST(AnswerRelayTest, FramingByRequestStatusAndClientVersion) {
  // HEAD, 204 and 304 end at the head whatever they declare; 1xx are relayed to 1.1 only.
  Options head;
  head.head = true;
  Outcome o = Relay("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", head);
  EXPECT_EQ(o.last, AnswerRelay::Event::kDone);
  EXPECT_NE(o.out.find("Content-Length: 42\r\n"), std::string::npos);
  EXPECT_EQ(Body(o.out), "");
  o = Relay("HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n");
  EXPECT_EQ(o.last, AnswerRelay::Event::kDone);
  EXPECT_TRUE(o.reusable);
  o = Relay(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(o.last, AnswerRelay::Event::kDone);
  EXPECT_EQ(o.out.find("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"), 0u);
  Options v10;
  v10.minor = 0;
  v10.keep_alive = false;
  o = Relay("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", v10);
  EXPECT_EQ(o.out.find("HTTP/1.1 200 OK"), 0u);  // no 1xx for an HTTP/1.0 client
  EXPECT_TRUE(o.close_client);
}

TEST(AnswerRelayTest, ACloseDelimitedBodyIsRechunkedOrEndsTheConnection) {
  Options eof;
  eof.eof = true;
  Outcome o = Relay("HTTP/1.0 200 OK\r\n\r\nall of it", eof);
  EXPECT_EQ(o.last, AnswerRelay::Event::kDone);
  EXPECT_EQ(Body(o.out), "9\r\nall of it\r\n0\r\n\r\n");
  EXPECT_FALSE(o.reusable);  // the upstream closed: never pooled
  eof.minor = 0;
  o = Relay("HTTP/1.0 200 OK\r\n\r\nall of it", eof);
  EXPECT_EQ(Body(o.out), "all of it");
  EXPECT_TRUE(o.close_client);
}

TEST(AnswerRelayTest, MalformedOrTruncatedAnswersAreErrors) {
  for (const std::string bad :
       {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "HTTP/1.1 200 OK\nX: y\n\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "garbage\r\n\r\n"}) {
    const Outcome o = Relay(bad);
    EXPECT_EQ(o.last, AnswerRelay::Event::kError) << bad;
    EXPECT_FALSE(o.reusable) << bad;
  }
  // Cut short by the upstream's close: an error, and the client never gets a false end.
  Options eof;
  eof.eof = true;
  Outcome o = Relay("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", eof);
  EXPECT_EQ(o.last, AnswerRelay::Event::kError);
  EXPECT_TRUE(o.sent_any);  // the caller must abort the client connection, not answer 502
  o = Relay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", eof);
  EXPECT_EQ(o.last, AnswerRelay::Event::kError);
  EXPECT_EQ(o.out.find("0\r\n\r\n"), std::string::npos);
  o = Relay("", eof);
  EXPECT_EQ(o.last, AnswerRelay::Event::kError);
  EXPECT_FALSE(o.sent_any);  // nothing arrived: a 502 (or a retry) is still possible
}

TEST(AnswerRelayTest, AHeadThatDoesNotFitAnEmptyOutputIsAnError) {
  Options tiny;
  tiny.room = 16;
  const Outcome o =
      Relay("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Long: aaaaaaaaaaaa\r\n\r\n", tiny);
  EXPECT_EQ(o.last, AnswerRelay::Event::kError);
}

}  // namespace
}  // namespace sluice::net
