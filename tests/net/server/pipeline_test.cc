// The pipeline without a ring: bytes of one connection in, answers out, and what it asks the
// ring to do (Effects). A test drives it as the ring would: Receive() what arrived, send
// s.output() and report it with Sent().
#include "pipeline.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime.h"
#include "sluice/net/config/config.h"

namespace sluice::net {
namespace {

constexpr std::size_t kReceiveBytes = 16384;

// Counts "HTTP/1.1 " status lines in `text`, the answers in order.
std::vector<std::string> Statuses(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t at = text.find("HTTP/1.1 "); at != std::string_view::npos;
       at = text.find("HTTP/1.1 ", at + 1)) {
    out.emplace_back(text.substr(at + 9, 3));
  }
  return out;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config = EmbeddedDefault();
    config.policies[0].burst = 2;  // per-ip 10/s burst 2: the third request at once is denied
    config.table_capacity = 1024;
    auto rt = Runtime::Build(config, 1, 1);
    ASSERT_TRUE(rt.ok()) << rt.status();
    runtime_ = *std::move(rt);
    pipeline_.SetRuntime(*runtime_);
    pipeline_.Tick(1'000'000'000, std::chrono::system_clock::now());
    pipeline_.Open(stream_, 7);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(0x7f000001);
    std::memcpy(&stream_.peer, &peer, sizeof peer);
  }
  void TearDown() override { pipeline_.Close(stream_); }

  Effects Receive(std::string_view bytes) {
    return pipeline_.Receive(stream_, bytes.data(), bytes.size());
  }
  // Sends everything queued, as the ring would; returns it.
  std::string SendAll(Effects* effects = nullptr) {
    const std::string sent(stream_.output());
    const Effects e = pipeline_.Sent(stream_, sent.size());
    if (effects != nullptr) *effects = e;
    return sent;
  }

  ShardMetrics metrics_;
  std::unique_ptr<Runtime> runtime_;
  Pipeline pipeline_{metrics_, 0, nullptr, kReceiveBytes, 16};
  Stream stream_;
};

TEST_F(PipelineTest, OneRequestOneAnswerAndNothingHeldAfterwards) {
  const Effects e = Receive("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(e.send);
  EXPECT_FALSE(e.close || e.stop_reading);
  const std::string answer = SendAll();
  EXPECT_EQ(Statuses(answer), std::vector<std::string>{"200"});
  EXPECT_NE(answer.find("RateLimit: \"per-ip\";r=1"), std::string::npos) << answer;
  EXPECT_FALSE(stream_.holds_buffers());  // an idle connection holds no buffer
  EXPECT_TRUE(stream_.answered());
  EXPECT_EQ(metrics_.requests_allowed.Get(), 1u);
}

TEST_F(PipelineTest, PipelinedRequestsAreAnsweredInOrderInOneOutput) {
  const Effects e = Receive(
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(e.send);
  EXPECT_EQ(Statuses(SendAll()), (std::vector<std::string>{"200", "200", "429"}));
}

TEST_F(PipelineTest, AHeadSplitAcrossReceivesIsKeptAndAnsweredOnce) {
  EXPECT_FALSE(Receive("GET / HT").send);
  EXPECT_TRUE(stream_.holds_buffers());  // the unfinished head waits in the input buffer
  EXPECT_NE(stream_.head_started, 0);
  EXPECT_FALSE(Receive("TP/1.1\r\nHost: a\r\n").send);
  EXPECT_TRUE(Receive("\r\n").send);
  EXPECT_EQ(Statuses(SendAll()), std::vector<std::string>{"200"});
  EXPECT_EQ(stream_.head_started, 0);
}

TEST_F(PipelineTest, AMalformedHeadIsAFinal400AndLaterBytesAreIgnored) {
  EXPECT_TRUE(Receive("GET / HTTP/1.1\r\nHost a\r\n\r\n").send);
  EXPECT_TRUE(stream_.final);
  EXPECT_FALSE(Receive("GET / HTTP/1.1\r\nHost: a\r\n\r\n").send);
  EXPECT_EQ(Statuses(SendAll()), std::vector<std::string>{"400"});
}

TEST_F(PipelineTest, AFullOutputStopsReadingUntilTheClientReads) {
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  Effects e = Receive(many);
  EXPECT_TRUE(e.send);
  EXPECT_TRUE(e.stop_reading);
  EXPECT_TRUE(stream_.paused);
  std::size_t answers = Statuses(SendAll(&e)).size();
  EXPECT_GT(answers, 0u);
  EXPECT_LT(answers, 2000u);
  // Each send makes room: the kept input is answered, and reading resumes once the pause ends.
  bool read_again = e.read_again;
  while (stream_.has_output()) {
    answers += Statuses(SendAll(&e)).size();
    read_again = read_again || e.read_again;
  }
  EXPECT_TRUE(read_again);
  EXPECT_EQ(answers, 2000u);
  EXPECT_FALSE(stream_.paused);
  EXPECT_FALSE(stream_.holds_buffers());
}

// Proxy mode's seam: an admitted request is forwarded, and its answer comes later, in order.
class RecordingForwarder : public Forwarder {
 public:
  Verdict Forward(std::uint64_t stream_id, const HttpRequest& request,
                  const EvalOutcome& outcome) noexcept override {
    ids.push_back(stream_id);
    paths.emplace_back(request.path);
    allowed.push_back(outcome.allowed);
    return {};
  }
  BodyFeed Body(std::uint64_t, std::string_view bytes) noexcept override {
    body.append(bytes);
    return BodyFeed{bytes.size(), BodyFeed::Status::kMore};
  }
  std::string body;
  std::vector<std::uint64_t> ids;
  std::vector<std::string> paths;
  std::vector<bool> allowed;
};

TEST_F(PipelineTest, AForwardedAnswerComesLaterAndKeepsTheOrder) {
  RecordingForwarder forwarder;
  pipeline_.set_forwarder(&forwarder);
  const Effects e = Receive(
      "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_FALSE(e.send);  // nothing to send yet: /a's answer is awaited, /b and /c wait
  EXPECT_TRUE(stream_.awaiting);
  EXPECT_FALSE(stream_.answered());
  ASSERT_EQ(forwarder.paths, std::vector<std::string>{"/a"});
  EXPECT_EQ(forwarder.ids, std::vector<std::uint64_t>{7});

  const std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
  EXPECT_TRUE(pipeline_.Complete(stream_, a, /*keep_alive=*/true).send);
  EXPECT_EQ(forwarder.paths, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(SendAll(), a);  // /b is forwarded, not answered: only /a's answer is out

  const std::string b = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB";
  EXPECT_TRUE(pipeline_.Complete(stream_, b, true).send);
  // /c is over the burst: denied at once, after /b's answer, never forwarded.
  const std::string out = SendAll();
  EXPECT_EQ(out.substr(0, b.size()), b);
  EXPECT_EQ(Statuses(out), (std::vector<std::string>{"200", "429"}));
  EXPECT_EQ(forwarder.paths, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_FALSE(stream_.awaiting);
  // A second Complete() without a promise changes nothing.
  EXPECT_FALSE(pipeline_.Complete(stream_, b, true).send);
}

TEST_F(PipelineTest, AForwardedAnswerWithoutKeepAliveIsFinal) {
  RecordingForwarder forwarder;
  pipeline_.set_forwarder(&forwarder);
  Receive("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(pipeline_.Complete(stream_, "HTTP/1.1 502 Bad Gateway\r\n\r\n", false).send);
  EXPECT_TRUE(stream_.final);
  EXPECT_EQ(forwarder.paths, std::vector<std::string>{"/a"});  // /b is never read
  EXPECT_EQ(Statuses(SendAll()), std::vector<std::string>{"502"});
}

}  // namespace
}  // namespace sluice::net
