// RequestHost and HostIs: the host a request is for, port cut off, absolute-form first.
#include "sluice/net/http/host.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace sluice::net {
namespace {

std::string HostOf(const std::string& head) {
  auto request = std::make_unique<HttpRequest>();
  const ParseResult r = ParseRequestHead(head, HttpLimits{}, *request);
  EXPECT_EQ(r.status, ParseResult::Status::kComplete) << head;
  return std::string(RequestHost(*request));
}

TEST(HostTest, RequestHost) {
  EXPECT_EQ(HostOf("GET / HTTP/1.1\r\nHost: Example.com\r\n\r\n"), "Example.com");
  EXPECT_EQ(HostOf("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"), "example.com");
  EXPECT_EQ(HostOf("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), "[::1]");
  EXPECT_EQ(HostOf("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"), "10.0.0.1");
  EXPECT_EQ(HostOf("GET http://a.b:9/x HTTP/1.1\r\nHost: other\r\n\r\n"), "a.b");
  EXPECT_EQ(HostOf("GET http://a.b?q HTTP/1.1\r\nHost: other\r\n\r\n"), "a.b");
  EXPECT_EQ(HostOf("GET / HTTP/1.0\r\n\r\n"), "");
  EXPECT_EQ(HostOf("OPTIONS * HTTP/1.1\r\nHost: h:1\r\n\r\n"), "h");
}

TEST(HostTest, HostIsCaseInsensitiveAndExact) {
  EXPECT_TRUE(HostIs("Example.COM", "example.com"));
  EXPECT_FALSE(HostIs("example.com.", "example.com"));
  EXPECT_FALSE(HostIs("", "example.com"));
  EXPECT_FALSE(HostIs("xexample.com", "example.com"));
}

}  // namespace
}  // namespace sluice::net
