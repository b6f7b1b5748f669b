// Proxy mode, what the upstream does wrong or unusually, through the real sluiced: every 502
// (refused, reset or closed before an answer, a malformed status line; the framing errors are
// the smuggling suite's S24-S25), the 504s (a silent upstream, a connect that never
// completes), an early answer before the request body (never pooled), 1xx interim answers,
// close-delimited answers, chunked answers with trailers. Each upstream connection that saw an
// error must be closed by sluiced: the recording upstream keeps its side open, so a closed
// connection is sluiced's doing. Nothing waits by sleeping and nothing asserts a timing.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "proxy_support.h"
#include "recording_upstream.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

// The answer to `raw` on a fresh connection, read strictly.
std::optional<ClientAnswer> Ask(const Sluiced& server, const std::string& raw, bool head = false) {
  Client client(server.port());
  if (!client.connected() || !client.Send(raw)) return std::nullopt;
  AnswerReader reader(client);
  return reader.NextFinal(head);
}

std::string GetOf(const std::string& target, const std::string& version = "1.1") {
  return "GET " + target + " HTTP/" + version + "\r\nHost: test\r\n\r\n";
}

TEST(E2eProxyFailuresTest, RefusedConnectIs502) {
  ProxyConfig config;
  config.servers = {"127.0.0.1:" + std::to_string(RefusedPort())};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  for (int i = 0; i < 3; ++i) {
    const auto a = Ask(server, GetOf("/refused"));
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->status, 502) << Escaped(a->raw);
  }
  EXPECT_TRUE(server.Running());
}

// Answers that cannot be forwarded, and an upstream that goes away before answering: a 502 to
// the client, and the upstream connection closed by sluiced.
TEST(E2eProxyFailuresTest, NoUsableAnswerIs502AndTheConnectionIsClosed) {
  struct Bad {
    std::string target;
    Reply reply;
  };
  std::vector<Bad> bad = {
      {"/status-letters", Reply{"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok"}},
      {"/status-short", Reply{"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok"}},
      {"/no-reason-space", Reply{"HTTP/1.1 200\rContent-Length: 2\r\n\r\nok"}},
      {"/version-2", Reply{"HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok"}},
      {"/version-0.9", Reply{"ok\r\n"}},
      {"/lower-case", Reply{"http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}},
      {"/bad-cl", Reply{"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok"}},
      {"/duplicate-cl",
       Reply{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"}},
      {"/cl-and-te",
       Reply{
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}},
      {"/obs-fold", Reply{"HTTP/1.1 200 OK\r\nX-A: 1\r\n\t2\r\nContent-Length: 2\r\n\r\nok"}},
      {"/body-on-204", Reply{"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\nok"}},
  };
  Reply closed;  // closes without a byte
  closed.after = Reply::After::kClose;
  bad.push_back({"/closed", closed});
  Reply reset;  // resets without a byte
  reset.after = Reply::After::kReset;
  bad.push_back({"/reset", reset});
  Reply half{"HTTP/1.1 200 OK\r\nContent-Le"};  // closes inside the head
  half.after = Reply::After::kClose;
  bad.push_back({"/half-head", half});

  RecordingUpstream upstream([bad](const UpstreamRequest& r) {
    for (const Bad& b : bad) {
      if (b.target == r.target) return b.reply;
    }
    return Answer(200, "r:" + r.target);
  });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.target);
    const auto a = Ask(server, GetOf(b.target));
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->status, 502) << Escaped(a->raw);
    EXPECT_TRUE(ClosedAfter(upstream, b.target))
        << "sluiced kept an upstream connection that answered badly";
    // The next request is answered on another connection, with its own answer.
    const std::string next_target = "/next" + b.target;
    const auto next = Ask(server, GetOf(next_target));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body, "r:" + next_target);
    const auto bad_request = Find(upstream, b.target);
    const auto next_request = Find(upstream, next_target);
    ASSERT_TRUE(bad_request && next_request);
    EXPECT_NE(bad_request->connection, next_request->connection);
  }
  EXPECT_TRUE(server.Running());
}

TEST(E2eProxyFailuresTest, SilentUpstreamIs504AndTheConnectionIsClosed) {
  RecordingUpstream upstream([](const UpstreamRequest& r) {
    if (r.target == "/silent") {
      Reply reply;
      reply.silent = true;
      return reply;
    }
    return Answer(200, "r:" + r.target);
  });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  config.timeouts = "{connect_ms: 2000, response_header_ms: 300, idle_ms: 10000}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  const auto a = Ask(server, GetOf("/silent"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 504) << Escaped(a->raw);
  EXPECT_TRUE(ClosedAfter(upstream, "/silent")) << "a timed-out upstream connection was kept";
  // Not retried (it was sent): the upstream saw it once.
  std::size_t silent = 0;
  for (const UpstreamRequest& r : upstream.Requests()) silent += r.target == "/silent" ? 1 : 0;
  EXPECT_EQ(silent, 1u);
  const auto next = Ask(server, GetOf("/next"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "r:/next");
}

// A listener whose accept queue is full drops further SYNs (Linux): a connect to it never
// completes, so sluiced's connect timeout, not a refusal, decides.
TEST(E2eProxyFailuresTest, ConnectThatNeverCompletesIs504) {
  BareListener listener(0);
  ASSERT_NE(listener.port(), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(listener.port());
  std::vector<int> fillers;
  bool full = false;
  for (int i = 0; i < 16 && !full; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    fillers.push_back(fd);
    ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd p{fd, POLLOUT, 0};
    full = ::poll(&p, 1, 500) == 0;  // this one's SYN was dropped: the queue is full
  }
  if (!full) {
    for (const int fd : fillers) ::close(fd);
    GTEST_SKIP() << "this kernel completes connects to a full accept queue";
  }
  ProxyConfig config;
  config.servers = {listener.address()};
  config.timeouts = "{connect_ms: 200, response_header_ms: 10000, idle_ms: 10000}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  const auto a = Ask(server, GetOf("/never"));
  for (const int fd : fillers) ::close(fd);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 504) << Escaped(a->raw);
}

// The upstream answers as soon as it has the head (a 413 or 401 before the body): the client
// gets that answer, and the connection, whose request body was not all sent, is never reused.
TEST(E2eProxyFailuresTest, EarlyAnswerBeforeTheBodyIsNeverPooled) {
  RecordingUpstream upstream([](const UpstreamRequest& r) { return Answer(200, "r:" + r.target); },
                             false,
                             [](const UpstreamRequest& r) {
                               if (r.target.rfind("/early", 0) == 0) return Answer(413, "too big");
                               return Answer(200, "r:" + r.target);
                             });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  for (const std::string expect : {"", "Expect: 100-continue\r\n"}) {
    SCOPED_TRACE(expect.empty() ? "plain" : "Expect: 100-continue");
    const std::string target = expect.empty() ? "/early" : "/early-expect";
    {
      Client client(server.port());
      ASSERT_TRUE(client.Send("POST " + target + " HTTP/1.1\r\nHost: test\r\n" + expect +
                              "Content-Length: 100000\r\n\r\n0123456789"));
      AnswerReader reader(client);
      const auto a = reader.NextFinal();
      ASSERT_TRUE(a.has_value());
      EXPECT_EQ(a->status, 413) << Escaped(a->raw);
      EXPECT_EQ(a->body, "too big");
    }
    ASSERT_TRUE(upstream.WaitFor([&] { return Find(upstream, target).has_value(); }));
    const std::size_t early_connection = Find(upstream, target)->connection;
    EXPECT_TRUE(upstream.WaitFor([&] { return upstream.closed(early_connection); }))
        << "the connection of an early answer was kept";
    const std::string next_target = "/next" + target;
    const auto next = Ask(server, GetOf(next_target));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->body, "r:" + next_target);
    const auto next_request = Find(upstream, next_target);
    ASSERT_TRUE(next_request.has_value());
    EXPECT_NE(next_request->connection, early_connection)
        << "sent on the early answer's connection";
  }
}

TEST(E2eProxyFailuresTest, InterimAnswersGoToHttp11ClientsOnly) {
  const std::string final_ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const std::string hints = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n";
  RecordingUpstream upstream([&](const UpstreamRequest& r) {
    if (r.target == "/100") return Reply{"HTTP/1.1 100 Continue\r\n\r\n" + final_ok};
    if (r.target == "/103") return Reply{hints + final_ok};
    if (r.target == "/both") return Reply{"HTTP/1.1 100 Continue\r\n\r\n" + hints + final_ok};
    return Answer(200, "r:" + r.target);
  });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  struct Want {
    std::string target;
    std::vector<int> interim;
  };
  for (const Want& w : {Want{"/100", {100}}, Want{"/103", {103}}, Want{"/both", {100, 103}}}) {
    SCOPED_TRACE(w.target);
    Client client(server.port());
    ASSERT_TRUE(client.Send(GetOf(w.target)));
    AnswerReader reader(client);
    for (const int status : w.interim) {
      const auto a = reader.Next();
      ASSERT_TRUE(a.has_value());
      EXPECT_EQ(a->status, status) << Escaped(a->raw);
      if (status == 103) {
        EXPECT_EQ(a->Header("link"), "</s.css>; rel=preload");
      }
    }
    const auto final_answer = reader.Next();
    ASSERT_TRUE(final_answer.has_value());
    EXPECT_EQ(final_answer->status, 200) << Escaped(final_answer->raw);
    EXPECT_EQ(final_answer->body, "ok");
    // The same on the same connection once more: the interim answers did not desync it.
    ASSERT_TRUE(client.Send(GetOf("/after")));
    const auto after = reader.NextFinal();
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->body, "r:/after");

    Client old(server.port());  // HTTP/1.0: the final answer only
    ASSERT_TRUE(old.Send(GetOf(w.target, "1.0")));
    AnswerReader old_reader(old);
    const auto first = old_reader.Next();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->status, 200) << "an interim answer reached an HTTP/1.0 client: "
                                  << Escaped(first->raw);
    EXPECT_EQ(first->body, "ok");
  }
}

// An HTTP/1.0-style answer that ends with the upstream's close: chunked to an HTTP/1.1 client
// (whose connection stays usable), close-delimited to an HTTP/1.0 one.
TEST(E2eProxyFailuresTest, CloseDelimitedAnswers) {
  const std::string body(100000, 'z');
  RecordingUpstream upstream([&](const UpstreamRequest& r) {
    if (r.target == "/eof") {
      Reply reply{"HTTP/1.0 200 OK\r\nX-Origin: eof\r\n\r\n" + body};
      reply.after = Reply::After::kClose;
      return reply;
    }
    return Answer(200, "r:" + r.target);
  });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  {
    Client client(server.port());
    ASSERT_TRUE(client.Send(GetOf("/eof")));
    AnswerReader reader(client);
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->status, 200);
    EXPECT_EQ(a->framing, ClientAnswer::Framing::kChunked) << Escaped(a->raw, 300);
    EXPECT_TRUE(a->complete);
    EXPECT_EQ(a->body, body);
    EXPECT_EQ(a->Header("x-origin"), "eof");
    ASSERT_TRUE(client.Send(GetOf("/again")));
    const auto again = reader.NextFinal();
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->body, "r:/again");
  }
  {
    Client client(server.port());
    ASSERT_TRUE(client.Send(GetOf("/eof", "1.0")));
    AnswerReader reader(client);
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->status, 200);
    EXPECT_TRUE(a->framing == ClientAnswer::Framing::kClose ||
                a->framing == ClientAnswer::Framing::kLength)
        << "chunked to an HTTP/1.0 client: " << Escaped(a->raw, 300);
    EXPECT_TRUE(a->complete);
    EXPECT_EQ(a->body, body);
    EXPECT_EQ(a->Count("transfer-encoding"), 0u);
    EXPECT_TRUE(reader.Eof());
  }
}

// A chunked answer with trailers: the body arrives whole and re-chunked; forwardable trailers
// reach a client that asked for them (TE: trailers) and no other; framing trailers never do.
TEST(E2eProxyFailuresTest, ChunkedAnswerWithTrailers) {
  RecordingUpstream upstream([](const UpstreamRequest& r) {
    if (r.target == "/trailers") {
      return Reply{
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
          "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: abc\r\nContent-Length: 99\r\n\r\n"};
    }
    return Answer(200, "r:" + r.target);
  });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  for (const bool te_trailers : {true, false}) {
    SCOPED_TRACE(te_trailers ? "TE: trailers" : "no TE");
    Client client(server.port());
    ASSERT_TRUE(client.Send("GET /trailers HTTP/1.1\r\nHost: test\r\n" +
                            std::string(te_trailers ? "TE: trailers\r\n" : "") + "\r\n"));
    AnswerReader reader(client);
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->status, 200);
    EXPECT_TRUE(a->complete) << Escaped(a->raw);
    EXPECT_EQ(a->body, "hello world");
    EXPECT_EQ(a->raw.find(";ext"), std::string::npos) << "chunk framing passed through";
    using Fields = std::vector<std::pair<std::string, std::string>>;
    const Fields want = te_trailers ? Fields{{"x-sum", "abc"}} : Fields{};
    EXPECT_EQ(a->trailers, want)
        << "trailers go to a client that asked for them, never a framing one: " << Escaped(a->raw);
    ASSERT_TRUE(client.Send(GetOf("/after")));
    const auto after = reader.NextFinal();
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->body, "r:/after");
  }
}

// A malformed chunked answer body (a bad chunk-size line, a bad chunk terminator) in the same
// upstream write as the head: nothing of the answer went to the client yet, so a 502; the
// upstream connection is closed and the next request goes on another one.
TEST(E2eProxyFailuresTest, MalformedAnswerBodyWithTheHeadIs502) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/bad-size", head + "zz\r\nhello\r\n0\r\n\r\n"},
      {"/bad-end", head + "5\r\nhelloXX\r\n0\r\n\r\n"},
      {"/good-then-bad-size", head + "5\r\nhello\r\n5;\r\nworld\r\n0\r\n\r\n"},
      {"/good-then-bad-end", head + "5\r\nhello\r\n5\r\nworld\n0\r\n\r\n"},
  };
  RecordingUpstream upstream([bad](const UpstreamRequest& r) {
    for (const auto& [target, bytes] : bad) {
      if (target == r.target) return Reply{bytes};
    }
    return Answer(200, "r:" + r.target);
  });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {upstream.address()};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  for (const auto& [target, bytes] : bad) {
    SCOPED_TRACE(target);
    const auto a = Ask(server, GetOf(target));
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->status, 502) << Escaped(a->raw);
    EXPECT_EQ(a->body.find("hello"), std::string::npos) << Escaped(a->raw);
    EXPECT_TRUE(ClosedAfter(upstream, target)) << "a connection with a bad answer was kept";
    const std::string next_target = "/next" + target;
    const auto next = Ask(server, GetOf(next_target));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->body, "r:" + next_target);
    EXPECT_NE(Find(upstream, next_target)->connection, Find(upstream, target)->connection);
  }
}

// The same malformed body in a later upstream write, once the head and a first chunk reached
// the client (answer heads are never held back for body bytes): the client's connection is
// cut, its answer never completed; sluiced closes that upstream connection, and the next
// request is answered over a new one.
TEST(E2eProxyFailuresTest, MalformedAnswerBodyAfterTheHeadWentOutAbortsTheClient) {
  BareListener listener;
  ASSERT_NE(listener.port(), 0);
  ProxyConfig config;
  config.servers = {listener.address()};
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  int pooled = -1;  // the upstream connection sluiced keeps after a good answer
  // The request `target` as it reaches the upstream: on the pooled connection, else a new one.
  const auto take = [&](const std::string& target, int& up) {
    up = pooled >= 0 ? pooled : listener.Accept(10s);
    pooled = -1;
    std::string request;
    return up >= 0 && ReadUntil(up, request, "\r\n\r\n", 0, 10s) &&
           request.find(" " + target + " ") != std::string::npos;
  };
  for (const std::string bad : {"zz\r\n", "5\r\nworldXX", "5;\r\n", "5\r\nworld\n"}) {
    SCOPED_TRACE(Escaped(bad));
    {
      Client client(server.port(), 10s);
      ASSERT_TRUE(client.Send(GetOf("/later")));
      int up = -1;
      ASSERT_TRUE(take("/later", up));
      const std::string first =
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
      ASSERT_EQ(::send(up, first.data(), first.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(first.size()));
      std::string seen;
      ASSERT_TRUE(ReadUntil(client.fd(), seen, "hello\r\n", 0, 10s)) << Escaped(seen);
      ASSERT_EQ(::send(up, bad.data(), bad.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bad.size()));
      const auto rest = client.ReadToEof();
      ASSERT_TRUE(rest.has_value()) << "the client connection was not closed";
      const std::string all = seen + *rest;
      // What went out is the first chunk, and at most the data of the broken one (relayed
      // before its terminator was seen): never a last chunk, never more.
      const std::string body = all.substr(all.find("\r\n\r\n") + 4);
      const std::string most = "5\r\nhello\r\n5\r\nworld\r\n";
      EXPECT_TRUE(body.rfind("5\r\nhello\r\n", 0) == 0 && most.rfind(body, 0) == 0)
          << "a broken answer was completed, padded or followed: " << Escaped(all);
      std::string after;
      EXPECT_TRUE(ReadToClose(up, after, 10s)) << "the upstream connection was kept";
      ::close(up);
    }
    Client next(server.port(), 10s);
    ASSERT_TRUE(next.Send(GetOf("/next")));
    int up = -1;
    ASSERT_TRUE(take("/next", up));
    const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    ASSERT_EQ(::send(up, ok.data(), ok.size(), MSG_NOSIGNAL), static_cast<ssize_t>(ok.size()));
    AnswerReader reader(next);
    const auto a = reader.NextFinal();
    ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
    EXPECT_EQ(a->status, 200);
    EXPECT_EQ(a->body, "ok");
    pooled = up;
  }
  if (pooled >= 0) ::close(pooled);
}

}  // namespace
}  // namespace sluice::e2e
