// WriteAnswerHead: the exact head a client gets for each kind of upstream answer, by client
// version and keep-alive: framing rebuilt (Content-Length, re-chunked, close-delimited to
// HTTP/1.0), hop-by-hop and Connection-named fields removed, 1xx only to HTTP/1.1 clients,
// HEAD/304 lengths passed on, the output bound; each output re-parses as an answer.
#include "sluice/net/http/forward_response.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::net {
namespace {

struct Answer {
  AnswerHeadResult result;
  std::string head;
};

class ForwardResponseTest : public ::testing::Test {
 protected:
  Answer Write(const std::string& upstream, ClientRequestFacts client, bool head = false,
               std::string_view extra = "", bool force_close = false) {
    upstream_ = upstream;
    const ResponseParseResult parsed =
        ParseResponseHead(upstream_, ResponseLimits{}, head, *response_);
    EXPECT_EQ(parsed.status, ResponseParseResult::Status::kComplete) << upstream;
    std::vector<char> out(4096);
    Answer a;
    a.result = WriteAnswerHead(*response_, client, extra, force_close, out.data(), out.size());
    a.head.assign(out.data(), a.result.size);
    if (!a.result.refused && !a.result.skip) {
      const ResponseParseResult again =
          ParseResponseHead(a.head, ResponseLimits{}, head, *reparsed_);
      EXPECT_EQ(again.status, ResponseParseResult::Status::kComplete) << a.head;
      EXPECT_EQ(again.consumed, a.head.size());
      EXPECT_EQ(reparsed_->status, response_->status);
    }
    return a;
  }
  std::string upstream_;
  std::unique_ptr<HttpResponse> response_ = std::make_unique<HttpResponse>();
  std::unique_ptr<HttpResponse> reparsed_ = std::make_unique<HttpResponse>();
};

constexpr ClientRequestFacts kHttp11{1, true};
constexpr ClientRequestFacts kHttp11Close{1, false};
constexpr ClientRequestFacts kHttp10{0, false};
constexpr ClientRequestFacts kHttp10KeepAlive{0, true};

TEST_F(ForwardResponseTest, ContentLengthAnswer) {
  const std::string up =
      "HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive, X-Internal\r\n"
      "Keep-Alive: timeout=5\r\nX-Internal: secret\r\nContent-Length: 5\r\nETag: \"e\"\r\n\r\n";
  Answer a = Write(up, kHttp11, false, "RateLimit: \"p\";r=1;t=0\r\n");
  EXPECT_EQ(a.head,
            "HTTP/1.1 200 OK\r\nServer: up\r\nETag: \"e\"\r\nRateLimit: \"p\";r=1;t=0\r\n"
            "Content-Length: 5\r\n\r\n");
  EXPECT_EQ(a.result.framing, ClientFraming::kContentLength);
  EXPECT_FALSE(a.result.close_client);

  a = Write(up, kHttp11Close);
  EXPECT_EQ(a.head,
            "HTTP/1.1 200 OK\r\nServer: up\r\nETag: \"e\"\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_TRUE(a.result.close_client);

  a = Write(up, kHttp10KeepAlive);
  EXPECT_EQ(a.head,
            "HTTP/1.1 200 OK\r\nServer: up\r\nETag: \"e\"\r\nContent-Length: 5\r\n"
            "Connection: keep-alive\r\n\r\n");
  EXPECT_FALSE(a.result.close_client);

  a = Write(up, kHttp11, false, "", true);
  EXPECT_TRUE(a.result.close_client);
  EXPECT_NE(a.head.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(ForwardResponseTest, ChunkedAndCloseDelimitedBodies) {
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n";
  Answer a = Write(chunked, kHttp11);
  EXPECT_EQ(a.head, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(a.result.framing, ClientFraming::kChunked);
  EXPECT_FALSE(a.result.close_client);

  a = Write(chunked, kHttp10KeepAlive);  // no chunked to HTTP/1.0: close-delimited
  EXPECT_EQ(a.head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(a.result.framing, ClientFraming::kUntilClose);
  EXPECT_TRUE(a.result.close_client);

  const std::string until_close = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
  a = Write(until_close, kHttp11);  // re-chunked for an HTTP/1.1 client, which stays open
  EXPECT_EQ(a.head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(a.result.framing, ClientFraming::kChunked);
  EXPECT_FALSE(a.result.close_client);
  a = Write(until_close, kHttp10);
  EXPECT_EQ(a.head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(a.result.framing, ClientFraming::kUntilClose);
}

TEST_F(ForwardResponseTest, NoBodyAnswersKeepTheirDeclaredLength) {
  Answer a = Write("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", kHttp11, true);  // HEAD
  EXPECT_EQ(a.head, "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
  EXPECT_EQ(a.result.framing, ClientFraming::kNone);
  a = Write("HTTP/1.1 304 Not Modified\r\nContent-Length: 7, 7\r\nETag: x\r\n\r\n", kHttp11);
  EXPECT_EQ(a.head, "HTTP/1.1 304 Not Modified\r\nETag: x\r\nContent-Length: 7\r\n\r\n");
  a = Write("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", kHttp11);
  EXPECT_EQ(a.head, "HTTP/1.1 204 No Content\r\n\r\n");  // a 204 never carries one
  a = Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", kHttp11, true);
  EXPECT_EQ(a.head, "HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(a.result.framing, ClientFraming::kNone);
}

TEST_F(ForwardResponseTest, InterimAnswersOnlyToHttp11) {
  Answer a = Write("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\nConnection: x\r\n\r\n", kHttp11);
  EXPECT_EQ(a.head, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
  EXPECT_FALSE(a.result.skip);
  a = Write("HTTP/1.1 100 Continue\r\n\r\n", kHttp10KeepAlive);
  EXPECT_TRUE(a.result.skip);
  EXPECT_EQ(a.result.size, 0u);
}

TEST_F(ForwardResponseTest, TooManyConnectionOptionsAndTheBound) {
  std::string many = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: ";
  for (int i = 0; i < 17; ++i) many += "o" + std::to_string(i) + ",";
  many += "\r\n\r\n";
  EXPECT_TRUE(Write(many, kHttp11).result.refused);

  const std::string up = "HTTP/1.1 404 Not Found\r\nA: 1\r\nContent-Length: 3\r\n\r\n";
  const Answer full = Write(up, kHttp11Close, false, "X-Extra: 1\r\n");
  ASSERT_FALSE(full.result.refused);
  for (std::size_t cap = 0; cap <= full.head.size(); ++cap) {
    std::vector<char> out(cap + 8, '#');
    const AnswerHeadResult r =
        WriteAnswerHead(*response_, kHttp11Close, "X-Extra: 1\r\n", false, out.data(), cap);
    EXPECT_EQ(r.refused, cap < full.head.size()) << cap;
    if (!r.refused) {
      EXPECT_EQ(std::string(out.data(), r.size), full.head);
    }
    for (std::size_t i = cap; i < out.size(); ++i) ASSERT_EQ(out[i], '#');
  }
}

}  // namespace
}  // namespace sluice::net
