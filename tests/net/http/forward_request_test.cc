// WriteForwardedHead: the exact canonical head for each rule of DESIGN.md "Proxy mode" (origin
// form, Host, hop-by-hop and Connection-named fields, X-Forwarded-For modes, X-Real-IP,
// X-Forwarded-Proto, body framing, websocket routes), the refusals, the output bound, and that
// every output re-parses to the request it stands for.
#include "sluice/net/http/forward_request.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sluice::net {
namespace {

struct Forwarded {
  ForwardError error = ForwardError::kNone;
  std::string head;
};

class ForwardRequestTest : public ::testing::Test {
 protected:
  // The error the request parser refuses `input` with (kNone if it takes it).
  ParseError Refused(const std::string& input) {
    input_ = input;
    const ParseResult parsed = ParseRequestHead(input_, HttpLimits{}, *request_);
    EXPECT_EQ(parsed.status, ParseResult::Status::kError) << input;
    return parsed.error;
  }

  Forwarded Forward(const std::string& input, const ForwardOptions& options = {}) {
    input_ = input;
    const ParseResult parsed = ParseRequestHead(input_, HttpLimits{}, *request_);
    EXPECT_EQ(parsed.status, ParseResult::Status::kComplete) << input;
    ForwardContext context;
    context.peer_ip = "192.0.2.7";
    context.client_ip = "198.51.100.1";
    context.default_host = "127.0.0.1:9000";
    std::vector<char> out(8192);
    const ForwardResult result =
        WriteForwardedHead(*request_, options, context, out.data(), out.size());
    Forwarded f;
    f.error = result.error;
    if (result.error == ForwardError::kNone) {
      f.head.assign(out.data(), result.size);
      // The output is a request our own parser takes whole.
      const ParseResult again = ParseRequestHead(f.head, HttpLimits{}, *reparsed_);
      EXPECT_EQ(again.status, ParseResult::Status::kComplete) << f.head;
      EXPECT_EQ(again.consumed, f.head.size()) << f.head;
      EXPECT_EQ(reparsed_->method, request_->method);
      EXPECT_EQ(reparsed_->minor_version, 1);
      EXPECT_TRUE(reparsed_->keep_alive);
      EXPECT_EQ(reparsed_->body, request_->body);
      EXPECT_EQ(reparsed_->content_length, request_->content_length);
    } else {
      EXPECT_EQ(result.size, 0u);
    }
    return f;
  }

  std::string input_;
  std::unique_ptr<HttpRequest> request_ = std::make_unique<HttpRequest>();
  std::unique_ptr<HttpRequest> reparsed_ = std::make_unique<HttpRequest>();
};

constexpr std::string_view kOurs =
    "X-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 198.51.100.1\r\nX-Forwarded-Proto: http\r\n";

TEST_F(ForwardRequestTest, KeepsEndToEndFieldsInOrderAndAddsOurs) {
  const Forwarded f = Forward(
      "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Api-Key:  k1 \r\n"
      "Cookie: a=b\r\n\r\n");
  ASSERT_EQ(f.error, ForwardError::kNone);
  EXPECT_EQ(f.head,
            "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n"
            "X-Api-Key: k1\r\nCookie: a=b\r\n" +
                std::string(kOurs) + "\r\n");
}

TEST_F(ForwardRequestTest, AbsoluteFormBecomesOriginFormAndItsAuthorityTheHost) {
  Forwarded f = Forward("GET http://api.example.com:8080/v1/x?q=2 HTTP/1.1\r\nHost: other\r\n\r\n");
  ASSERT_EQ(f.error, ForwardError::kNone);
  EXPECT_EQ(f.head, "GET /v1/x?q=2 HTTP/1.1\r\nHost: api.example.com:8080\r\n" +
                        std::string(kOurs) + "\r\n");
  f = Forward("GET HTTPS://h?q HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(f.head, "GET /?q HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) + "\r\n");
  f = Forward("GET http://[::1]:9 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(f.head, "GET / HTTP/1.1\r\nHost: [::1]:9\r\n" + std::string(kOurs) + "\r\n");
  f = Forward("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(f.head, "OPTIONS * HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) + "\r\n");
}

TEST_F(ForwardRequestTest, RefusesWhatCannotBeForwarded) {
  // An absolute-form target without a valid authority never reaches the forwarder: the request
  // parser answers it 400 (issue 11), so nothing of it can be sent upstream.
  for (const char* target : {"http://user@h/", "http:///x", "http://h:8x/", "http://[::1/"}) {
    EXPECT_EQ(Refused(absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: h\r\n\r\n")),
              ParseError::kBadRequestLine)
        << target;
  }
  EXPECT_EQ(Forward("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n").error, ForwardError::kBadTarget);
  EXPECT_EQ(Forward("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n").error,
            ForwardError::kMethodNotAllowed);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\nConnection: ";
  for (int i = 0; i < 17; ++i) many += "o" + std::to_string(i) + ", ";
  EXPECT_EQ(Forward(many + "x\r\n\r\n").error, ForwardError::kTooManyConnectionOptions);
  EXPECT_EQ(StatusFor(ForwardError::kBadTarget), 400);
  EXPECT_EQ(StatusFor(ForwardError::kMethodNotAllowed), 405);
  EXPECT_EQ(StatusFor(ForwardError::kTooManyConnectionOptions), 400);
  EXPECT_EQ(StatusFor(ForwardError::kTooLarge), 431);
}

TEST_F(ForwardRequestTest, RemovesHopByHopAndConnectionNamedFields) {
  const Forwarded f = Forward(
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret, Host\r\n"
      "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: gzip, trailers\r\n"
      "Trailer: X-T\r\nUpgrade: h2c\r\nX-Secret: s\r\nX-Kept: k\r\nconnection: close\r\n\r\n");
  ASSERT_EQ(f.error, ForwardError::kNone);
  EXPECT_EQ(f.head, "GET / HTTP/1.1\r\nHost: h\r\nX-Kept: k\r\nTE: trailers\r\n" +
                        std::string(kOurs) + "\r\n");
}

TEST_F(ForwardRequestTest, ClientsForwardedFieldsCannotOverrideOrRemoveOurs) {
  const std::string request =
      "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 6.6.6.6\r\n"
      "X-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-For:\r\n"
      "\r\n";
  ForwardOptions append;
  Forwarded f = Forward(request, append);
  EXPECT_EQ(f.head,
            "GET / HTTP/1.1\r\nHost: h\r\n"
            "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7\r\n"
            "X-Real-IP: 198.51.100.1\r\nX-Forwarded-Proto: http\r\n\r\n");

  ForwardOptions replace;
  replace.x_forwarded_for = XForwardedFor::kReplace;
  f = Forward(request, replace);
  EXPECT_EQ(f.head, "GET / HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) + "\r\n");

  ForwardOptions off;
  off.x_forwarded_for = XForwardedFor::kOff;
  off.x_real_ip = false;
  off.x_forwarded_proto = false;
  f = Forward(request, off);
  EXPECT_EQ(f.head,
            "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\n"
            "X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-For: \r\n\r\n");

  // S21: a client naming our fields in Connection removes only its own copies.
  f = Forward(
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Forwarded-For, X-Real-IP\r\n"
      "X-Forwarded-For: 10.0.0.1\r\n\r\n",
      append);
  EXPECT_EQ(f.head, "GET / HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) + "\r\n");
}

TEST_F(ForwardRequestTest, BodyFramingIsRebuilt) {
  Forwarded f = Forward("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n");
  EXPECT_EQ(f.head,
            "POST /u HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) + "Content-Length: 5\r\n\r\n");
  // A coding sluiced does not implement is never passed on: the parser answers it 501.
  EXPECT_EQ(Refused("PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: GZIP ,\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"),
            ParseError::kUnsupportedTransferCoding);
  f = Forward("PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(f.head, "PUT /u HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) +
                        "Transfer-Encoding: chunked\r\n\r\n");
  // S15: a GET with a body keeps it, with its length.
  f = Forward("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(f.head,
            "GET / HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) + "Content-Length: 3\r\n\r\n");
  f = Forward("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(f.head,
            "POST / HTTP/1.1\r\nHost: h\r\n" + std::string(kOurs) + "Content-Length: 0\r\n\r\n");
}

TEST_F(ForwardRequestTest, Http10ClientsGetAHostAndNoExpect) {
  Forwarded f = Forward("GET /old HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(f.head, "GET /old HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n" + std::string(kOurs) + "\r\n");
  f = Forward("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
  EXPECT_EQ(f.head, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n" + std::string(kOurs) +
                        "Content-Length: 1\r\n\r\n");
}

TEST_F(ForwardRequestTest, UpgradeCrossesOnWebsocketRoutesOnly) {
  const std::string ws =
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n";
  ForwardOptions route;
  route.websocket = true;
  Forwarded f = Forward(ws, route);
  EXPECT_EQ(f.head,
            "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n"
            "Connection: upgrade\r\nUpgrade: websocket\r\n" +
                std::string(kOurs) + "\r\n");
  f = Forward(ws);  // not a websocket route
  EXPECT_EQ(f.head,
            "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n" +
                std::string(kOurs) + "\r\n");
  // S23: other protocols, no "upgrade" option, or not a GET: stripped.
  for (const std::string& bad :
       {std::string("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n")}) {
    f = Forward(bad, route);
    EXPECT_EQ(f.head.find("pgrade"), std::string::npos) << bad;
  }
}

TEST_F(ForwardRequestTest, NeverWritesPastTheBufferAndSaysTooLarge) {
  const std::string input =
      "POST /x?y HTTP/1.1\r\nHost: h\r\nA: 1\r\nX-Forwarded-For: 1.2.3.4\r\n"
      "Content-Length: 12345\r\n\r\n";
  ASSERT_EQ(ParseRequestHead(input, HttpLimits{}, *request_).status,
            ParseResult::Status::kComplete);
  ForwardContext context;
  context.peer_ip = "::1";
  context.client_ip = "::1";
  std::vector<char> full(1024);
  const ForwardResult exact =
      WriteForwardedHead(*request_, ForwardOptions{}, context, full.data(), full.size());
  ASSERT_EQ(exact.error, ForwardError::kNone);
  const std::string expected(full.data(), exact.size);
  for (std::size_t cap = 0; cap <= exact.size; ++cap) {
    std::vector<char> out(cap + 16, '#');
    const ForwardResult r =
        WriteForwardedHead(*request_, ForwardOptions{}, context, out.data(), cap);
    if (cap < exact.size) {
      EXPECT_EQ(r.error, ForwardError::kTooLarge) << cap;
    } else {
      ASSERT_EQ(r.error, ForwardError::kNone);
      EXPECT_EQ(std::string(out.data(), r.size), expected);
    }
    for (std::size_t i = cap; i < out.size(); ++i) ASSERT_EQ(out[i], '#') << cap;
  }
}

}  // namespace
}  // namespace sluice::net
