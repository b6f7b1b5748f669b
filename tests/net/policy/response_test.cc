#include "sluice/net/policy/response.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sluice/net/config/config.h"
#include "sluice/net/policy/policy_set.h"

namespace sluice::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view kStatus200 =
    "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
constexpr std::string_view kStatus429 =
    "HTTP/1.1 429 Too Many Requests\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
constexpr std::string_view kPerIpPolicy = "RateLimit-Policy: \"per-ip\";q=20;w=2\r\n";

DateCache FixedDate() {
  DateCache d;
  d.Refresh(std::chrono::system_clock::time_point(seconds(784111777)));
  return d;
}

ServerPolicy Policy(std::string name, Rate rate, std::uint64_t burst) {
  ServerPolicy p;
  p.name = std::move(name);
  p.key = {KeyPart{KeyPartKind::kIp, ""}};
  p.rate = rate;
  p.burst = burst;
  return p;
}

// per-ip: 10/s burst 20 (T = 100 ms, w = 2 s); api: 1000/m burst 100 (T = 60 ms, w = 6 s).
ServerConfig SmallConfig(bool legacy = false) {
  ServerConfig c;
  c.legacy_headers = legacy;
  c.policies = {Policy("per-ip", Rate{10, seconds(1)}, 20),
                Policy("api", Rate{1000, seconds(60)}, 100)};
  return c;
}

EvalOutcome Allowed(int policy, std::int64_t remaining, nanoseconds reset_after) {
  EvalOutcome o;
  o.matched = true;
  o.allowed = true;
  o.reported = policy;
  o.decision = Decision{true, remaining, nanoseconds(0), reset_after};
  return o;
}

EvalOutcome Denied(int policy, nanoseconds retry_after, nanoseconds reset_after) {
  EvalOutcome o;
  o.matched = true;
  o.allowed = false;
  o.reported = policy;
  o.decision = Decision{false, 0, retry_after, reset_after};
  return o;
}

// Checks the framing of one response: CRLF lines, one blank line, a Content-Length that
// matches the body (or is the would-be body length of a HEAD answer).
void ExpectWellFormed(std::string_view r, bool head = false) {
  const std::size_t end = r.find("\r\n\r\n");
  ASSERT_NE(end, std::string_view::npos) << r;
  const std::string_view headers = r.substr(0, end + 2);
  const std::string_view body = r.substr(end + 4);
  ASSERT_TRUE(headers.starts_with("HTTP/1.1 ")) << r;
  std::size_t pos = 0;
  long content_length = -1;
  while (pos < headers.size()) {
    const std::size_t eol = headers.find("\r\n", pos);
    ASSERT_NE(eol, std::string_view::npos);
    const std::string_view line = headers.substr(pos, eol - pos);
    EXPECT_EQ(line.find('\n'), std::string_view::npos) << r;
    EXPECT_EQ(line.find('\r'), std::string_view::npos) << r;
    if (pos != 0) {
      EXPECT_NE(line.find(": "), std::string_view::npos) << line;
      if (line.starts_with("Content-Length: ")) {
        content_length = std::strtol(std::string(line.substr(16)).c_str(), nullptr, 10);
      }
    }
    pos = eol + 2;
  }
  ASSERT_GE(content_length, 0) << r;
  EXPECT_EQ(body.size(), head ? 0u : static_cast<std::size_t>(content_length)) << r;
}

class ResponseTest : public ::testing::Test {
 protected:
  std::string Answer(const ResponseTemplates& t, const EvalOutcome& o, bool keep_alive = true,
                     bool head = false, int minor_version = 1) {
    std::vector<char> out(t.max_response_bytes());
    const std::size_t n =
        t.WriteDecision(o, keep_alive, head, date_, out.data(), out.size(), minor_version);
    EXPECT_GT(n, 0u);
    std::string r(out.data(), n);
    ExpectWellFormed(r, head);
    return r;
  }
  std::string Error(const ResponseTemplates& t, int status) {
    std::vector<char> out(t.max_response_bytes());
    const std::size_t n = t.WriteError(status, date_, out.data(), out.size());
    EXPECT_GT(n, 0u);
    std::string r(out.data(), n);
    ExpectWellFormed(r);
    return r;
  }

  DateCache date_ = FixedDate();
  ResponseTemplates templates_{SmallConfig()};
};

TEST(DateCacheTest, FormatsImfFixdate) {
  DateCache d = FixedDate();
  EXPECT_EQ(d.value(), kDate);
  const auto at = [&](std::int64_t s, std::int64_t ms = 0) {
    d.Refresh(std::chrono::system_clock::time_point(seconds(s) + milliseconds(ms)));
    return std::string(d.value());
  };
  EXPECT_EQ(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(at(1709210096, 999), "Thu, 29 Feb 2024 12:34:56 GMT");
  EXPECT_EQ(at(978307199, 500), "Sun, 31 Dec 2000 23:59:59 GMT");
  EXPECT_EQ(at(2147483648), "Tue, 19 Jan 2038 03:14:08 GMT");
  EXPECT_EQ(at(784111777, 1), kDate);
  EXPECT_EQ(at(784111777, 999), kDate);  // same second
  EXPECT_EQ(at(784111778), "Sun, 06 Nov 1994 08:49:38 GMT");
}

TEST(DateCacheTest, StartsWithTheCurrentTime) {
  const DateCache d;
  EXPECT_EQ(d.value().size(), 29u);
  EXPECT_TRUE(d.value().ends_with(" GMT"));
  EXPECT_NE(d.value().substr(0, 3), std::string_view("\0\0\0", 3));
}

TEST(ReasonPhraseTest, KnownAndGeneric) {
  EXPECT_EQ(ReasonPhrase(200), "OK");
  EXPECT_EQ(ReasonPhrase(429), "Too Many Requests");
  EXPECT_EQ(ReasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(ReasonPhrase(499), "Client Error");
  EXPECT_EQ(ReasonPhrase(599), "Server Error");
  EXPECT_EQ(ReasonPhrase(42), "Unknown");
}

TEST_F(ResponseTest, NoMatchingPolicy) {
  EvalOutcome o;  // matched = false, allowed = true
  EXPECT_EQ(Answer(templates_, o), std::string(kStatus200) + "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(Answer(templates_, o, /*keep_alive=*/false),
            std::string(kStatus200) + "Content-Length: 0\r\nConnection: close\r\n\r\n");
  // Matched, but nothing the table decided (only a shadow when_missing: deny): no headers.
  o.matched = true;
  EXPECT_EQ(Answer(templates_, o), std::string(kStatus200) + "Content-Length: 0\r\n\r\n");
}

TEST_F(ResponseTest, Allowed) {
  EXPECT_EQ(Answer(templates_, Allowed(0, 19, milliseconds(100))),
            std::string(kStatus200) + "Content-Length: 0\r\n" + std::string(kPerIpPolicy) +
                "RateLimit: \"per-ip\";r=19;t=1\r\n\r\n");
  EXPECT_EQ(Answer(templates_, Allowed(1, 99, milliseconds(60))),
            std::string(kStatus200) +
                "Content-Length: 0\r\n"
                "RateLimit-Policy: \"api\";q=100;w=6\r\n"
                "RateLimit: \"api\";r=99;t=1\r\n\r\n");
}

TEST_F(ResponseTest, Denied) {
  EXPECT_EQ(Answer(templates_, Denied(0, milliseconds(100), seconds(2))),
            std::string(kStatus429) +
                "Content-Type: text/plain\r\n"
                "Content-Length: 13\r\n"
                "Retry-After: 1\r\n" +
                std::string(kPerIpPolicy) +
                "RateLimit: \"per-ip\";r=0;t=2\r\n"
                "\r\n"
                "rate limited\n");
}

TEST_F(ResponseTest, NeverAdmissibleHasNoRetryAfter) {
  EXPECT_EQ(Answer(templates_, Denied(0, Decision::kNever, nanoseconds(0))),
            std::string(kStatus429) +
                "Content-Type: text/plain\r\n"
                "Content-Length: 13\r\n" +
                std::string(kPerIpPolicy) +
                "RateLimit: \"per-ip\";r=0;t=0\r\n"
                "\r\n"
                "rate limited\n");
}

TEST_F(ResponseTest, HeadHasNoBody) {
  EXPECT_EQ(Answer(templates_, Denied(0, seconds(3), seconds(2)), true, /*head=*/true),
            std::string(kStatus429) +
                "Content-Type: text/plain\r\n"
                "Content-Length: 13\r\n"
                "Retry-After: 3\r\n" +
                std::string(kPerIpPolicy) + "RateLimit: \"per-ip\";r=0;t=2\r\n\r\n");
  EXPECT_EQ(Answer(templates_, Allowed(0, 5, seconds(1)), true, true),
            std::string(kStatus200) + "Content-Length: 0\r\n" + std::string(kPerIpPolicy) +
                "RateLimit: \"per-ip\";r=5;t=1\r\n\r\n");
}

TEST_F(ResponseTest, LegacyHeaders) {
  const ResponseTemplates legacy(SmallConfig(/*legacy=*/true));
  EXPECT_EQ(Answer(legacy, Allowed(0, 19, milliseconds(100))),
            std::string(kStatus200) + "Content-Length: 0\r\n" + std::string(kPerIpPolicy) +
                "RateLimit: \"per-ip\";r=19;t=1\r\n"
                "X-RateLimit-Limit: 20\r\n"
                "X-RateLimit-Remaining: 19\r\n"
                "X-RateLimit-Reset: 1\r\n"
                "\r\n");
  EXPECT_EQ(Answer(legacy, Denied(1, milliseconds(1500), seconds(6)), /*keep_alive=*/false),
            std::string(kStatus429) +
                "Content-Type: text/plain\r\n"
                "Content-Length: 13\r\n"
                "Retry-After: 2\r\n"
                "RateLimit-Policy: \"api\";q=100;w=6\r\n"
                "RateLimit: \"api\";r=0;t=6\r\n"
                "X-RateLimit-Limit: 100\r\n"
                "X-RateLimit-Remaining: 0\r\n"
                "X-RateLimit-Reset: 6\r\n"
                "Connection: close\r\n"
                "\r\n"
                "rate limited\n");
}

TEST_F(ResponseTest, ConnectionHeaders) {
  const std::string base = std::string(kStatus200) + "Content-Length: 0\r\n" +
                           std::string(kPerIpPolicy) + "RateLimit: \"per-ip\";r=1;t=2\r\n";
  const EvalOutcome o = Allowed(0, 1, seconds(2));
  EXPECT_EQ(Answer(templates_, o, true, false, 1), base + "\r\n");
  EXPECT_EQ(Answer(templates_, o, false, false, 1), base + "Connection: close\r\n\r\n");
  EXPECT_EQ(Answer(templates_, o, true, false, 0), base + "Connection: keep-alive\r\n\r\n");
  EXPECT_EQ(Answer(templates_, o, false, false, 0), base + "Connection: close\r\n\r\n");
}

TEST_F(ResponseTest, OtherDenyStatus) {
  ServerConfig c = SmallConfig();
  c.deny_status = 503;
  const ResponseTemplates t(c);
  EXPECT_TRUE(Answer(t, Denied(0, seconds(1), seconds(1)))
                  .starts_with("HTTP/1.1 503 Service Unavailable\r\nDate: "));
}

TEST_F(ResponseTest, RetryAfterAndResetRoundUp) {
  const auto retry = [&](nanoseconds wait) {
    const std::string r = Answer(templates_, Denied(0, wait, seconds(2)));
    const std::size_t at = r.find("Retry-After: ");
    EXPECT_NE(at, std::string::npos);
    return r.substr(at + 13, r.find("\r\n", at) - at - 13);
  };
  EXPECT_EQ(retry(nanoseconds(0)), "1");  // at least 1
  EXPECT_EQ(retry(nanoseconds(1)), "1");
  EXPECT_EQ(retry(seconds(1)), "1");
  EXPECT_EQ(retry(seconds(1) + nanoseconds(1)), "2");
  EXPECT_EQ(retry(seconds(86400 * 365)), "31536000");

  const auto reset = [&](nanoseconds d) {
    const std::string r = Answer(templates_, Allowed(0, 20, d));
    const std::size_t at = r.find(";t=");
    EXPECT_NE(at, std::string::npos);
    return r.substr(at + 3, r.find("\r\n", at) - at - 3);
  };
  EXPECT_EQ(reset(nanoseconds(0)), "0");  // the burst is full
  EXPECT_EQ(reset(nanoseconds(1)), "1");
  EXPECT_EQ(reset(seconds(1)), "1");
  EXPECT_EQ(reset(seconds(1) + nanoseconds(1)), "2");
}

TEST_F(ResponseTest, PolicyWindowRoundsUp) {
  const auto w = [&](Rate rate, std::uint64_t burst) {
    ServerConfig c;
    c.policies = {Policy("p", rate, burst)};
    const std::string r = Answer(ResponseTemplates(c), Allowed(0, 0, seconds(0)));
    const std::size_t at = r.find(";w=");
    EXPECT_NE(at, std::string::npos);
    return r.substr(at + 3, r.find("\r\n", at) - at - 3);
  };
  EXPECT_EQ(w(Rate{10, seconds(1)}, 20), "2");  // b*T = 2 s exactly
  EXPECT_EQ(w(Rate{3, seconds(1)}, 3), "1");    // T = 333333333 ns, b*T just under 1 s
  EXPECT_EQ(w(Rate{3, seconds(1)}, 4), "2");    // 1.333 s
  EXPECT_EQ(w(Rate{1, seconds(1)}, 1), "1");
  EXPECT_EQ(w(Rate{1000, seconds(1)}, 1), "1");  // 1 ms
  EXPECT_EQ(w(Rate{1, seconds(86400)}, 2), "172800");
}

TEST_F(ResponseTest, RealDecisionsFromThePolicySet) {
  ServerConfig c = SmallConfig();
  c.table_capacity = 256;
  auto set = PolicySet::Build(c);
  ASSERT_TRUE(set.ok());
  KeyScratch scratch((*set)->scratch_bytes());
  HttpRequest r;
  r.method = "GET";
  r.path = "/";
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(0x0a000001);
  EvalOutcome o;
  const nanoseconds now = seconds(100);
  (*set)->Evaluate(r, reinterpret_cast<const sockaddr*>(&peer), now, scratch, o);
  // per-ip: 19 left, reset after T = 100 ms; api: 99 left. per-ip is the more restrictive.
  EXPECT_EQ(Answer(templates_, o), std::string(kStatus200) + "Content-Length: 0\r\n" +
                                       std::string(kPerIpPolicy) +
                                       "RateLimit: \"per-ip\";r=19;t=1\r\n\r\n");
  for (int i = 0; i < 19; ++i) {
    (*set)->Evaluate(r, reinterpret_cast<const sockaddr*>(&peer), now, scratch, o);
  }
  (*set)->Evaluate(r, reinterpret_cast<const sockaddr*>(&peer), now, scratch, o);
  ASSERT_FALSE(o.allowed);
  EXPECT_EQ(Answer(templates_, o), std::string(kStatus429) +
                                       "Content-Type: text/plain\r\n"
                                       "Content-Length: 13\r\n"
                                       "Retry-After: 1\r\n" +
                                       std::string(kPerIpPolicy) +
                                       "RateLimit: \"per-ip\";r=0;t=2\r\n\r\nrate limited\n");
}

TEST_F(ResponseTest, Errors) {
  EXPECT_EQ(Error(templates_, 431),
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 32\r\n"
            "Connection: close\r\n"
            "\r\n"
            "request header fields too large\n");
  const std::pair<int, std::string_view> kCases[] = {
      {400, "Bad Request"},  {404, "Not Found"},           {408, "Request Timeout"},
      {414, "URI Too Long"}, {503, "Service Unavailable"}, {505, "HTTP Version Not Supported"}};
  for (const auto& [status, reason] : kCases) {
    const std::string r = Error(templates_, status);
    EXPECT_TRUE(r.starts_with(absl::StrCat("HTTP/1.1 ", status, " ", std::string(reason), "\r\n")))
        << r;
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
  }
  EXPECT_TRUE(Error(templates_, 7).starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_TRUE(Error(templates_, 499).starts_with("HTTP/1.1 499 Client Error\r\n"));
}

TEST_F(ResponseTest, TooSmallACapacityWritesNothing) {
  const EvalOutcome cases[] = {Allowed(0, 19, milliseconds(100)),
                               Denied(1, milliseconds(100), seconds(2)), EvalOutcome{}};
  for (const EvalOutcome& o : cases) {
    const std::string full = Answer(templates_, o);
    std::vector<char> out(full.size() + 8, '#');
    for (std::size_t cap = 0; cap < full.size(); ++cap) {
      ASSERT_EQ(templates_.WriteDecision(o, true, false, date_, out.data(), cap), 0u) << cap;
    }
    EXPECT_EQ(std::string(out.data(), out.size()), std::string(out.size(), '#'));
    EXPECT_EQ(templates_.WriteDecision(o, true, false, date_, out.data(), full.size()),
              full.size());
    EXPECT_EQ(std::string(out.data(), full.size()), full);
  }
  const std::string error = Error(templates_, 400);
  std::vector<char> out(error.size(), '#');
  EXPECT_EQ(templates_.WriteError(400, date_, out.data(), error.size() - 1), 0u);
  EXPECT_EQ(std::string(out.data(), out.size()), std::string(out.size(), '#'));
  EXPECT_EQ(templates_.WriteError(400, date_, out.data(), error.size()), error.size());
}

TEST_F(ResponseTest, MaxResponseBytesIsAnUpperBound) {
  ServerConfig c = SmallConfig(/*legacy=*/true);
  c.policies.push_back(Policy(std::string(64, 'n'), Rate{1, seconds(86400)}, 100000));
  const ResponseTemplates t(c);
  const nanoseconds huge(std::numeric_limits<std::int64_t>::max());
  std::size_t largest = 0;
  for (int p = 0; p < 3; ++p) {
    for (const EvalOutcome& o :
         {Allowed(p, std::numeric_limits<std::int64_t>::max(), huge), Denied(p, huge, huge)}) {
      for (const bool keep_alive : {true, false}) {
        for (const int minor : {0, 1}) {
          largest = std::max(largest, Answer(t, o, keep_alive, false, minor).size());
        }
      }
    }
  }
  for (int status = 100; status < 600; ++status)
    largest = std::max(largest, Error(t, status).size());
  EXPECT_LE(largest, t.max_response_bytes());
  EXPECT_LE(t.max_response_bytes(), largest + 128);  // and not wildly above (20 digits each)
}

}  // namespace
}  // namespace sluice::net
