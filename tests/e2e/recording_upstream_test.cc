// The recording upstream itself, driven by a plain loopback client: it records exactly the
// bytes sent, frames pipelined and chunked requests, plays each kind of scripted reply (keep
// open, close, reset, silent, early, idle close, refusal), and its two parsers (python3-h11
// and sluice's) agree on canonical requests.
#include "recording_upstream.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <vector>

#include "harness.h"

namespace sluice::e2e {
namespace {

TEST(RecordingUpstreamTest, RecordsBytesAndAnswersPipelinedRequests) {
  RecordingUpstream upstream([](const UpstreamRequest& r) {
    return Answer(200, "r" + std::to_string(r.index) + ":" + r.method + ":" + r.body.substr(0, 3));
  });
  ASSERT_TRUE(upstream.ok());
  Client client(upstream.port());
  ASSERT_TRUE(client.connected());
  const std::string sent =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
      "PUT /c HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nwxyz";
  ASSERT_TRUE(client.Send(sent));
  for (const std::string want : {"r0:GET:", "r1:POST:3\r\n", "r2:PUT:wxy"}) {
    const auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, want);
  }
  const std::vector<UpstreamRequest> requests = upstream.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].target, "/b");
  EXPECT_EQ(requests[1].body, "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
  EXPECT_EQ(requests[2].index, 2u);
  ASSERT_EQ(upstream.Received().size(), 1u);
  EXPECT_EQ(upstream.Received()[0], sent);
  EXPECT_EQ(upstream.accepted(), 1u);

  const std::string h11 = H11Parse(sent);
  if (h11.empty()) GTEST_SKIP() << "python3-h11 not installed (tools/install-deps.sh)";
  EXPECT_EQ(h11, SluiceParse(sent));
  EXPECT_NE(h11.find("trailer x-t: 1\n"), std::string::npos) << h11;
}

TEST(RecordingUpstreamTest, CloseResetAndSilentReplies) {
  RecordingUpstream upstream([](const UpstreamRequest& r) {
    Reply reply = Answer(200, "bye");
    if (r.target == "/close") reply.after = Reply::After::kClose;
    if (r.target == "/reset") {
      reply.bytes.clear();
      reply.after = Reply::After::kReset;
    }
    if (r.target == "/silent") reply.silent = true;
    return reply;
  });
  ASSERT_TRUE(upstream.ok());
  {
    Client client(upstream.port());
    ASSERT_TRUE(client.Send("GET /close HTTP/1.1\r\nHost: h\r\n\r\n"));
    const auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body, "bye");
    EXPECT_TRUE(client.ReadsEof());
  }
  {
    Client client(upstream.port());
    ASSERT_TRUE(client.Send("GET /reset HTTP/1.1\r\nHost: h\r\n\r\n"));
    char b = 0;
    ssize_t n = 0;
    int error = 0;
    ASSERT_TRUE(PollUntil(
        [&] {
          n = recv(client.fd(), &b, 1, MSG_DONTWAIT);
          error = errno;
          return n == 0 || (n < 0 && error != EAGAIN);
        },
        std::chrono::seconds(5)));
    EXPECT_LT(n, 0);
    EXPECT_EQ(error, ECONNRESET);
  }
  {
    Client client(upstream.port());
    ASSERT_TRUE(client.Send("GET /silent HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_TRUE(upstream.WaitFor([&] { return upstream.Requests().size() == 3; }));
    char b = 0;
    const ssize_t n = recv(client.fd(), &b, 1, MSG_DONTWAIT);
    const int error = errno;
    EXPECT_LT(n, 0);  // nothing was answered
    EXPECT_EQ(error, EAGAIN);
    EXPECT_EQ(upstream.open(), 1u);
  }
  ASSERT_TRUE(upstream.WaitFor([&] { return upstream.open() == 0; }));
}

TEST(RecordingUpstreamTest, EarlyAnswersIdleCloseAndRefusals) {
  RecordingUpstream upstream([](const UpstreamRequest&) { return Answer(500, "never asked"); },
                             false, [](const UpstreamRequest&) { return Answer(413, "early"); });
  ASSERT_TRUE(upstream.ok());
  Client client(upstream.port());
  ASSERT_TRUE(client.Send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n"));
  auto response = client.Read();  // before any body byte was sent
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  ASSERT_TRUE(client.Send("0123456789"));
  ASSERT_TRUE(upstream.WaitFor([&] { return upstream.Requests().size() == 1; }));
  EXPECT_EQ(upstream.Requests()[0].body, "0123456789");
  upstream.CloseIdle();
  EXPECT_TRUE(client.ReadsEof());

  Client bad(upstream.port());
  ASSERT_TRUE(bad.Send("GET / HTTP/1.1\nHost: h\r\n\r\n"));
  response = bad.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  ASSERT_TRUE(upstream.WaitFor([&] { return upstream.Refused().size() == 2; }));
  EXPECT_FALSE(upstream.Refused()[1].empty());
}

TEST(RecordingUpstreamTest, TheTwoParsersListTheSameRequests) {
  const std::vector<std::string> inputs = {
      "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
      "POST /x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: "
      "a\r\n"
      "\r\n",
      "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
      "GET /half HTTP/1.1\r\nHost: a\r\n",
  };
  for (const std::string& input : inputs) {
    const std::string h11 = H11Parse(input);
    if (h11.empty()) GTEST_SKIP() << "python3-h11 not installed (tools/install-deps.sh)";
    EXPECT_EQ(h11, SluiceParse(input)) << input;
  }
  // Where they differ, sluice is the stricter: a bare LF is an error to us, a line end to h11.
  const std::string bare_lf = "GET / HTTP/1.1\nHost: a\r\n\r\n";
  EXPECT_EQ(SluiceParse(bare_lf), "error: bad_request_line\n");
  EXPECT_NE(H11Parse(bare_lf).find("GET / HTTP/1.1"), std::string::npos);
}

}  // namespace
}  // namespace sluice::e2e
