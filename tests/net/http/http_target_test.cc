// What a policy sees of a request target (http_target.h): the normaliser's exact results, the
// spellings that must not escape a limit, the paths it refuses, authorities and methods, and a
// seeded property test: any re-spelling of a path (percent-encodings, dot segments, doubled
// slashes) normalises to the plain path.
#include "sluice/net/http/http_target.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/net/http/http_parser.h"

namespace sluice::net {
namespace {

using Status = NormalisedPath::Status;

// The normalised path of `raw`, or "<bad>" / "<too long>".
std::string Normalise(std::string_view raw, std::size_t capacity = 4096) {
  std::vector<char> scratch(capacity);
  const NormalisedPath n = NormalisePath(raw, scratch.data(), scratch.size());
  switch (n.status) {
    case Status::kOk:
      return std::string(n.path);
    case Status::kBadPath:
      return "<bad>";
    case Status::kTooLong:
      return "<too long>";
  }
  return "<?>";
}

TEST(HttpTargetTest, TheIssueSpellingsAllNormaliseToTheSamePath) {
  for (const std::string_view spelling :
       {"/api/x", "/%61pi/x", "//api/x", "/./api/x", "/x/../api/x", "/api%2Fx", "/api%2fx",
        "/%2Fapi//x", "/api/./x", "/api/y/../x", "/%2E/api/x", "/a/b/%2e%2e/%2E%2E/api/x",
        "///api///x", "/api/x/."}) {
    SCOPED_TRACE(spelling);
    const std::string n = Normalise(spelling);
    EXPECT_TRUE(n == "/api/x" || n == "/api/x/") << n;
  }
  EXPECT_EQ(Normalise("/api/x/."), "/api/x/");  // a trailing dot segment leaves its slash
}

TEST(HttpTargetTest, ExactResults) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"/", "/"},
      {"//", "/"},
      {"/.", "/"},
      {"/./", "/"},
      {"/a/..", "/"},
      {"/a/../", "/"},
      {"/a/b/..", "/a/"},
      {"/a/b/../c", "/a/c"},
      {"/a/./b/", "/a/b/"},
      {"/a//b", "/a/b"},
      {"/a/b//", "/a/b/"},
      {"/.well-known/x", "/.well-known/x"},  // a name that starts with a dot is kept
      {"/a/..b/c", "/a/..b/c"},
      {"/a/.../c", "/a/.../c"},
      {"/%25", "/%"},  // a decoded '%' is a byte like any other
      {"/%2541", "/%41"},
      {"/a%20b", "/a b"},
      {"/caf%C3%A9", "/caf\xc3\xa9"},
      {"/a%3Fb", "/a?b"},  // an encoded '?' is part of the path
      {"/a+b", "/a+b"},
      {"/a%2F..%2Fb", "/b"},  // decoded first, then segments
      {"/a/b/c/../../d", "/a/d"},
  };
  for (const auto& [raw, want] : cases) EXPECT_EQ(Normalise(raw), want) << raw;
}

TEST(HttpTargetTest, AnUnchangedPathIsTheInputItself) {
  const std::string raw = "/api/v1/items";
  char scratch[1];
  const NormalisedPath n = NormalisePath(raw, scratch, 0);  // no scratch needed
  ASSERT_EQ(n.status, Status::kOk);
  EXPECT_EQ(n.path.data(), raw.data());
  EXPECT_EQ(n.path.size(), raw.size());
}

TEST(HttpTargetTest, RefusedPaths) {
  for (const std::string_view raw :
       {"/%zz", "/%",   "/%4", "/a%g0", "/%00",     "/a%00b",  "/%0a",        "/%0D%0A",
        "/%1f", "/%7F", "/..", "/../a", "/a/../..", "/%2e%2e", "/%2E%2E/x",   "/a/%2e%2e/%2e%2e/b",
        "",     "a",    "*",   "/a b",  "/a\tb",    "/\x01",   "/caf\xc3\xa9"}) {
    EXPECT_EQ(Normalise(raw), "<bad>") << raw;
  }
}

TEST(HttpTargetTest, ScratchTooSmallIsSaidNotWrittenPast) {
  EXPECT_EQ(Normalise("/a//b", 4), "<too long>");
  EXPECT_EQ(Normalise("/a//b", 5), "/a/b");  // raw.size() always suffices
}

TEST(HttpTargetTest, RawPathOfTargetForms) {
  std::string_view path;
  ASSERT_TRUE(RawPathOfTarget("/a/b?q=1", path));
  EXPECT_EQ(path, "/a/b");
  ASSERT_TRUE(RawPathOfTarget("http://h:8080/a?q", path));
  EXPECT_EQ(path, "/a");
  ASSERT_TRUE(RawPathOfTarget("http://h", path));
  EXPECT_EQ(path, "/");
  ASSERT_TRUE(RawPathOfTarget("https://h?/api/", path));
  EXPECT_EQ(path, "/");
  ASSERT_TRUE(RawPathOfTarget("http://[::1]:80/x", path));
  EXPECT_EQ(path, "/x");
  ASSERT_TRUE(RawPathOfTarget("http://10.0.0.1/x", path));
  EXPECT_EQ(path, "/x");
  for (const std::string_view bad :
       {"", "a/b", "*", "/login#1", "/a?b#c", "http://h#x/login2", "http://[::1", "http:///x",
        "http://u@h/", "http://h:/x", "http://h:123456/", "http://[v1.x]/", "http://[fe80::1%25e]/",
        "http:/x", "1http://h/", "http://h h/"}) {
    EXPECT_FALSE(RawPathOfTarget(bad, path)) << bad;
  }
}

TEST(HttpTargetTest, Authorities) {
  for (const std::string_view good : {"h", "h:1", "example.com:65535", "10.0.0.1", "[::1]",
                                      "[2001:db8::1]:443", "a-b.c_d~e", "%41", "x!$&'()*+,;="}) {
    EXPECT_TRUE(IsValidAuthority(good, false)) << good;
  }
  EXPECT_TRUE(IsValidAuthority("h:443", true));
  for (const std::string_view bad : {"", ":80", "h:", "h:65536", "h:1:2", "u@h", "[::1", "[::1]x",
                                     "[::1]:", "[]", "[h]", "%4", "h/", "h h", "[::1]:99999"}) {
    EXPECT_FALSE(IsValidAuthority(bad, false)) << bad;
  }
  EXPECT_FALSE(IsValidAuthority("h", true));
  EXPECT_FALSE(IsValidAuthority("[::1]", true));
}

TEST(HttpTargetTest, Methods) {
  for (const std::string_view good : {"GET", "POST", "M-SEARCH", "BASELINE_CONTROL", "X"}) {
    EXPECT_TRUE(IsValidMethod(good)) << good;
  }
  for (const std::string_view bad : {"", "post", "Get", "GET1", "G.T", "G T", "\xc3\x89T"}) {
    EXPECT_FALSE(IsValidMethod(bad)) << bad;
  }
}

TEST(HttpTargetTest, CaseInsensitivePrefix) {
  EXPECT_TRUE(PathStartsWith("/API/x", "/api/", true));
  EXPECT_FALSE(PathStartsWith("/API/x", "/api/", false));
  EXPECT_TRUE(PathStartsWith("/api/x", "/api/", false));
  EXPECT_FALSE(PathStartsWith("/ap", "/api/", true));
  EXPECT_FALSE(PathStartsWith("/\xc3\xa9", "/\xc3\x89", true));  // ASCII letters only
}

// The parser gives policies the normalised path, for every spelling of the issue, in
// origin-form and absolute-form alike; the target itself stays as sent.
TEST(HttpTargetTest, TheParserHandsOutTheNormalisedPath) {
  auto r = std::make_unique<HttpRequest>();
  for (const std::string_view target :
       {"/api/x", "/%61pi/x", "//api/x", "/./api/x", "/x/../api/x", "/api%2Fx", "/api/x?a=/b",
        "http://h/%61pi/x", "http://h//api/x?q", "http://[::1]:80/x/../api/x"}) {
    SCOPED_TRACE(target);
    const std::string head = "GET " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n\r\n";
    const ParseResult result = ParseRequestHead(head, HttpLimits{}, *r);
    ASSERT_EQ(result.status, ParseResult::Status::kComplete) << LabelFor(result.error);
    EXPECT_EQ(r->path, "/api/x");
    EXPECT_EQ(r->target, target);
  }
}

// A path that needs rewriting is written into the request's own buffer: one smaller than the
// URI limit makes that a 414 rather than a write past it (ReservePath sizes it).
TEST(HttpTargetTest, PathBufferBoundsTheRewrite) {
  auto r = std::make_unique<HttpRequest>();
  r->path_buffer.resize(4);
  const std::string head = "GET /a//b HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(ParseRequestHead(head, HttpLimits{}, *r).error, ParseError::kUriTooLong);
  r->ReservePath(5);
  ASSERT_EQ(ParseRequestHead(head, HttpLimits{}, *r).status, ParseResult::Status::kComplete);
  EXPECT_EQ(r->path, "/a/b");
  EXPECT_EQ(r->path.data(), r->path_buffer.data());
  // An unchanged path still views into the input.
  const std::string plain = "GET /a/b HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(ParseRequestHead(plain, HttpLimits{}, *r).status, ParseResult::Status::kComplete);
  EXPECT_EQ(r->path.data(), plain.data() + 4);
}

// Property: a random path of plain segments, re-spelt at random (each byte percent-encoded or
// not, in either hex case; "./" and "x/../" inserted; slashes doubled), normalises to the plain
// path, and so starts with every prefix the plain path starts with. Seeded and bounded.
TEST(HttpTargetTest, RandomRespellingsNormaliseToThePlainPath) {
  std::mt19937 rng(0x5EED);
  constexpr std::string_view kSegmentBytes =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@";
  const auto encode = [&](char c) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    static constexpr char kLowerHex[] = "0123456789abcdef";
    const char* hex = rng() % 2 == 0 ? kHex : kLowerHex;
    const auto u = static_cast<unsigned char>(c);
    return std::string{'%', hex[u >> 4], hex[u & 15]};
  };
  for (int iteration = 0; iteration < 20000; ++iteration) {
    // The plain path: 1..6 segments, none of them "." or "..", optionally a trailing slash.
    std::vector<std::string> segments(1 + rng() % 6);
    for (std::string& seg : segments) {
      do {
        seg.clear();
        for (std::size_t n = 1 + rng() % 8; n > 0; --n) {
          seg.push_back(kSegmentBytes[rng() % kSegmentBytes.size()]);
        }
      } while (seg == "." || seg == "..");
    }
    const bool trailing = rng() % 3 == 0;
    std::string plain;
    for (const std::string& seg : segments) plain += "/" + seg;
    if (trailing) plain += "/";

    std::string spelt;
    const auto slash = [&] {
      // An origin-form target starts with a literal '/'.
      spelt += spelt.empty() || rng() % 5 != 0 ? "/" : encode('/');
      while (rng() % 4 == 0) spelt += rng() % 2 == 0 ? "/" : encode('/');  // doubled slashes
      while (rng() % 5 == 0) spelt += rng() % 2 == 0 ? "./" : encode('.') + "/";
      if (rng() % 6 == 0) spelt += "zz" + encode('z') + "/" + (rng() % 2 ? ".." : "%2e%2E") + "/";
    };
    for (const std::string& seg : segments) {
      slash();
      for (const char c : seg) spelt += rng() % 3 == 0 ? encode(c) : std::string(1, c);
    }
    if (trailing) slash();
    // A final dot segment ends the path in a slash.
    const bool final_dot = rng() % 8 == 0;
    if (final_dot) spelt += trailing ? "." : "/.";

    SCOPED_TRACE(spelt);
    const std::string want = final_dot && !trailing ? plain + "/" : plain;
    const std::string got = Normalise(spelt);
    ASSERT_EQ(got, want) << "plain " << plain;
    for (std::size_t cut = 1; cut <= plain.size(); ++cut) {
      ASSERT_TRUE(PathStartsWith(got, std::string_view(plain).substr(0, cut), false));
    }
  }
}

}  // namespace
}  // namespace sluice::net
