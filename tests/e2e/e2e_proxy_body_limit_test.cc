// Proxy mode's limits.body_bytes through the real sluiced (docs/config.md, SECURITY.md): a
// Content-Length body above it is a 413 with nothing forwarded; a chunked body is held back
// (nothing of the request goes upstream) until it ends or the exchange's upstream buffer is
// full, so one that ends within that hold is forwarded whole or refused whole (413, zero bytes
// upstream); one larger than the hold streams, and if it passes the limit after forwarding
// began, the upstream connection is closed before the last chunk (the upstream never has a
// complete request) and the client gets a 413, or a cut connection if its answer had begun.
// The body arrives in pieces: each piece after the first is sent only once sluiced has taken
// the head (its proxy_forwarded counter moved), so the split is real and nothing sleeps.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "harness.h"
#include "proxy_support.h"
#include "recording_upstream.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kForwarded[] = "sluice_proxy_forwarded_total";

std::string GetOf(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

std::string ChunkedHead(const std::string& target) {
  return "POST " + target + " HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
}

// One canonical chunk of `size` bytes of `fill` (sluiced re-chunks each data piece as one).
std::string Chunk(std::size_t size, char fill) {
  char line[32];
  std::snprintf(line, sizeof line, "%zx\r\n", size);
  return line + std::string(size, fill) + "\r\n";
}

// The data of a canonical chunked body (size lines without extensions, no trailers), or
// "<bad framing>".
std::string Dechunked(const std::string& body) {
  std::string data;
  std::size_t at = 0;
  for (;;) {
    const std::size_t eol = body.find("\r\n", at);
    if (eol == std::string::npos) return "<bad framing>";
    const std::size_t size = std::stoul(body.substr(at, eol - at), nullptr, 16);
    at = eol + 2;
    if (size == 0) return body.substr(at) == "\r\n" ? data : "<bad framing>";
    if (body.compare(at + size, 2, "\r\n") != 0) return "<bad framing>";
    data += body.substr(at, size);
    at += size + 2;
  }
}

RecordingUpstream Echoing() {
  return RecordingUpstream([](const UpstreamRequest& r) {
    return Answer(200, "r:" + r.target + ":" + std::to_string(r.body.size()));
  });
}

// Sends `first`, waits until sluiced has forwarded (taken) one more request than before, then
// sends `rest`.
bool SendInTwo(Client& client, const Sluiced& server, const std::string& first,
               const std::string& rest) {
  const std::uint64_t before = server.Metric(kForwarded);
  if (!client.Send(first)) return false;
  if (WaitForMetric(server, kForwarded, before + 1) < before + 1) return false;
  return client.Send(rest);
}

// Bodies that end within the hold: over the limit, a 413 and a close with no byte of the
// request upstream (the pooled upstream connection is not even touched); at or under it, the
// request forwarded whole and canonical.
TEST(E2eProxyBodyLimitTest, ChunkedBodyWithinTheHoldIsRefusedOrForwardedWhole) {
  RecordingUpstream upstream = Echoing();
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  config.limits = "{body_bytes: 1024}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  ASSERT_TRUE(Get(server.port(), GetOf("/warm")).has_value());  // one pooled connection
  struct Case {
    std::string label;
    std::vector<std::size_t> chunks;  // sizes; the first goes with the head
    int status;
  };
  const std::vector<Case> cases = {
      {"600 + 600 bytes (over)", {600, 600}, 413},
      {"1024 + 1 bytes (one over)", {1024, 1}, 413},
      {"1 + 1024 bytes (one over, the first small)", {1, 1024}, 413},
      {"512 + 512 bytes (exactly the limit)", {512, 512}, 200},
      {"1024 bytes then the end (exactly the limit)", {1024}, 200},
      {"100 + 200 bytes (under)", {100, 200}, 200},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.label);
    const std::string target = "/held/" + std::to_string(i);
    std::string canonical;
    for (std::size_t k = 0; k < c.chunks.size(); ++k) {
      canonical += Chunk(c.chunks[k], static_cast<char>('a' + k));
    }
    canonical += "0\r\n\r\n";
    const std::string first = ChunkedHead(target) + Chunk(c.chunks[0], 'a');
    const std::string rest = canonical.substr(Chunk(c.chunks[0], 'a').size());
    const std::vector<std::size_t> before = ByteCounts(upstream.Received());
    const std::size_t accepted = upstream.accepted();
    {
      Client client(server.port());
      ASSERT_TRUE(SendInTwo(client, server, first, rest));
      AnswerReader reader(client);
      const auto a = reader.NextFinal();
      ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
      EXPECT_EQ(a->status, c.status) << Escaped(a->raw);
      if (c.status == 413) {
        EXPECT_TRUE(reader.Eof()) << "not closed after the 413";
      } else {
        EXPECT_EQ(a->body, "r:" + target + ":" + std::to_string(canonical.size()));
      }
    }
    const std::string sentinel = "/sentinel/" + std::to_string(i);
    const auto s = Get(server.port(), GetOf(sentinel));
    ASSERT_TRUE(s.has_value());
    ASSERT_TRUE(upstream.WaitFor([&] { return Find(upstream, sentinel).has_value(); }));
    std::string want = Forwarded("GET " + sentinel + " HTTP/1.1", {"Host: test"});
    if (c.status == 200) {
      want = Forwarded("POST " + target + " HTTP/1.1", {"Host: test"}, "Transfer-Encoding: chunked",
                       canonical) +
             want;
    }
    EXPECT_EQ(NewBytes(upstream.Received(), before), want)
        << (c.status == 413 ? "bytes of a refused request reached the upstream"
                            : "the request was not forwarded whole");
    EXPECT_EQ(upstream.accepted(), accepted) << "the pooled upstream connection was not reused";
  }
}

// A Content-Length body: above the limit a 413 with nothing forwarded, even when the body
// comes after the head; at the limit, forwarded.
TEST(E2eProxyBodyLimitTest, ContentLengthBodyAtAndAboveTheLimit) {
  RecordingUpstream upstream = Echoing();
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  config.limits = "{body_bytes: 1024}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  for (const std::size_t length : {std::size_t{1025}, std::size_t{1024}}) {
    SCOPED_TRACE(length);
    const std::string target = "/length/" + std::to_string(length);
    const std::vector<std::size_t> before = ByteCounts(upstream.Received());
    const std::string head =
        "POST " + target + " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(length) +
        "\r\n\r\n";
    Client client(server.port());
    ASSERT_TRUE(client.Send(head));
    AnswerReader reader(client);
    if (length > 1024) {
      // Refused on the head alone: sluiced does not wait for the body.
      const auto a = reader.NextFinal();
      ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
      EXPECT_EQ(a->status, 413) << Escaped(a->raw);
      EXPECT_TRUE(reader.Eof());
      const std::string sentinel = "/sentinel" + target;
      ASSERT_TRUE(Get(server.port(), GetOf(sentinel)).has_value());
      ASSERT_TRUE(upstream.WaitFor([&] { return Find(upstream, sentinel).has_value(); }));
      EXPECT_EQ(NewBytes(upstream.Received(), before),
                Forwarded("GET " + sentinel + " HTTP/1.1", {"Host: test"}));
      continue;
    }
    ASSERT_TRUE(client.Send(std::string(length, 'x')));
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
    EXPECT_EQ(a->status, 200) << Escaped(a->raw);
    EXPECT_EQ(a->body, "r:" + target + ":1024");
  }
}

// A body larger than the hold streams to the upstream; when it passes the limit, the upstream
// connection is closed before the last chunk (never a complete request there) and the client,
// which has no answer byte yet, gets a 413 and a close.
TEST(E2eProxyBodyLimitTest, ChunkedBodyBeyondTheHoldPassingTheLimitAfterForwarding) {
  RecordingUpstream upstream = Echoing();
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  config.limits = "{body_bytes: 200000}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  const std::string target = "/stream-over";
  std::string body;
  for (int i = 0; i < 32; ++i) body += Chunk(8192, 's');  // 256 KiB of data
  body += "0\r\n\r\n";
  {
    Client client(server.port(), 10s);
    (void)client.Send(ChunkedHead(target) + body);  // sluiced may refuse before it took all
    AnswerReader reader(client);
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
    EXPECT_EQ(a->status, 413) << Escaped(a->raw);
    EXPECT_TRUE(reader.Eof()) << "not closed after the 413";
  }
  ASSERT_TRUE(upstream.WaitFor([&] { return Find(upstream, target).has_value(); }))
      << "a body larger than the hold was never streamed";
  EXPECT_TRUE(ClosedAfter(upstream, target)) << "the upstream connection was kept";
  for (const UpstreamRequest& r : upstream.Requests()) {
    EXPECT_NE(r.target, target) << "a request over body_bytes was completed upstream";
  }
  const std::size_t connection = Find(upstream, target)->connection;
  const std::string got = upstream.Received()[connection];
  EXPECT_EQ(got.find("\r\n0\r\n\r\n"), std::string::npos) << "the last chunk went upstream";
  EXPECT_LE(got.size(), std::size_t{220000}) << "more than the limit was forwarded";
  const auto next = Get(server.port(), GetOf("/next"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "r:/next:0");
}

// The same with an answer already on its way to the client (the upstream answered before the
// body ended): the client's connection is cut without a complete answer, the upstream's is
// closed without the last chunk.
TEST(E2eProxyBodyLimitTest, ChunkedBodyPassingTheLimitAfterTheAnswerBeganAbortsTheClient) {
  BareListener listener;
  ASSERT_NE(listener.port(), 0);
  ProxyConfig config;
  config.servers = {listener.address()};
  config.limits = "{body_bytes: 200000}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  Client client(server.port(), 10s);
  std::string part;
  for (int i = 0; i < 8; ++i) part += Chunk(8192, 'p');  // 64 KiB: past the hold
  ASSERT_TRUE(client.Send(ChunkedHead("/answer-began") + part));
  const int up = listener.Accept(10s);
  ASSERT_GE(up, 0);
  std::string got;
  ASSERT_TRUE(ReadUntil(up, got, "\r\n\r\n", 0, 10s)) << "a body past the hold was held";
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
  ASSERT_EQ(::send(up, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  std::string seen;
  ASSERT_TRUE(ReadUntil(client.fd(), seen, "hello", 0, 10s)) << Escaped(seen);
  std::string more;
  for (int i = 0; i < 24; ++i) more += Chunk(8192, 'q');  // now past body_bytes
  more += "0\r\n\r\n";
  (void)client.Send(more);  // sluiced may close before it took all of it
  const auto rest = client.ReadToEof();
  ASSERT_TRUE(rest.has_value()) << "the client connection was not closed";
  const std::string all = seen + *rest;
  EXPECT_EQ(all.substr(all.find("\r\n\r\n") + 4), "5\r\nhello\r\n")
      << "the answer was completed or a second answer followed: " << Escaped(all);
  // The upstream connection is closed by sluiced, and never saw the last chunk.
  EXPECT_TRUE(ReadToClose(up, got, 10s)) << "the upstream connection was kept";
  EXPECT_EQ(got.find("\r\n0\r\n\r\n"), std::string::npos) << "the last chunk went upstream";
  EXPECT_LE(got.size(), std::size_t{220000});
  ::close(up);
}

// Streaming uploads still stream: a chunked body larger than the hold and within the limit
// reaches the upstream whole; with "Expect: 100-continue" nothing is held (the client waits for
// the upstream's 100), so the head goes upstream before any body byte.
TEST(E2eProxyBodyLimitTest, ChunkedUploadsBeyondTheHoldAndWithExpectStream) {
  RecordingUpstream upstream = Echoing();
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  config.limits = "{body_bytes: 1048576}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  std::string body;
  std::string data;
  for (int i = 0; i < 32; ++i) {
    body += Chunk(8192, static_cast<char>('a' + i % 26));
    data += std::string(8192, static_cast<char>('a' + i % 26));
  }
  body += "0\r\n\r\n";
  {
    Client client(server.port(), 10s);
    ASSERT_TRUE(client.Send(ChunkedHead("/big-upload") + body));
    AnswerReader reader(client);
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
    EXPECT_EQ(a->status, 200) << Escaped(a->raw);
    // Re-chunked as it streamed (its pieces need not be the client's chunks): the same data.
    const std::vector<UpstreamRequest> requests = upstream.Requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_TRUE(Dechunked(requests[0].body) == data) << "the upload arrived changed";
  }
  {
    Client client(server.port(), 10s);
    ASSERT_TRUE(
        client.Send("POST /expect HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"));
    ASSERT_TRUE(upstream.WaitFor([&] { return Find(upstream, "/expect").has_value(); }))
        << "a request with Expect: 100-continue was held";
    ASSERT_TRUE(client.Send(Chunk(10, 'e') + "0\r\n\r\n"));
    AnswerReader reader(client);
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
    EXPECT_EQ(a->status, 200) << Escaped(a->raw);
    EXPECT_EQ(a->body, "r:/expect:" + std::to_string(Chunk(10, 'e').size() + 5));
  }
}

// The upstream answered early (before the body ended) and that answer is complete; the rest
// of the body, read past, then passes the limit: the client has its whole answer, then the
// connection ends, with no second answer (no 413 for a request already answered).
TEST(E2eProxyBodyLimitTest, BodyPassingTheLimitAfterACompleteEarlyAnswerEndsTheConnection) {
  RecordingUpstream upstream(
      [](const UpstreamRequest& r) { return Answer(200, "r:" + r.target); }, false,
      [](const UpstreamRequest& r) { return Answer(401, "early:" + r.target); });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  config.limits = "{body_bytes: 200000}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  Client client(server.port(), 10s);
  std::string part;
  for (int i = 0; i < 8; ++i) part += Chunk(8192, 'p');  // 64 KiB: past the hold
  ASSERT_TRUE(client.Send(ChunkedHead("/early") + part));
  AnswerReader reader(client);
  const auto a = reader.NextFinal();
  ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
  EXPECT_EQ(a->status, 401) << Escaped(a->raw);
  EXPECT_EQ(a->body, "early:/early");
  std::string more;
  for (int i = 0; i < 24; ++i) more += Chunk(8192, 'q');  // now past body_bytes
  more += "0\r\n\r\n";
  (void)client.Send(more);
  EXPECT_TRUE(reader.Eof()) << "a second answer or no close: " << Escaped(reader.pending());
}

}  // namespace
}  // namespace sluice::e2e
