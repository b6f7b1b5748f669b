// The log parsers against hand-written lines of each format: escapes, IPv6 clients, '-'
// fields, every month, zones; and the keys they build.
#include "sim/log_format.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "sim/key_spec.h"
#include "sim/log_time.h"

namespace sluice::sim {
namespace {

constexpr std::int64_t kS = 1'000'000'000;

std::int64_t Utc(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm)) * kS;
}

LogParser Parser(LogFormat format, std::string key = "", LogFields fields = {},
                 std::string policy = "") {
  LogParserOptions o;
  o.format = format;
  if (!key.empty()) o.key = *KeySpec::Parse(key);
  o.fields = std::move(fields);
  o.policy = std::move(policy);
  auto p = LogParser::Create(std::move(o));
  EXPECT_TRUE(p.ok()) << p.status();
  return *std::move(p);
}

// The key of one line, or "MALFORMED: why" / "NOKEY: why" / "SKIPPED" / "REFUSED: why".
std::string KeyOf(LogParser& p, std::string_view line, std::int64_t* t = nullptr) {
  LogLine fields;
  const char* why = nullptr;
  switch (p.Parse(line, fields, why)) {
    case LogParser::Result::kMalformed:
      return std::string("MALFORMED: ") + why;
    case LogParser::Result::kSkipped:
      return "SKIPPED";
    case LogParser::Result::kRefused:
      return std::string("REFUSED: ") + why;
    case LogParser::Result::kOk:
      break;
  }
  if (t != nullptr) *t = fields.t_ns;
  std::string key;
  const char* missing = nullptr;
  if (!p.BuildKey(fields, key, missing)) return std::string("NOKEY: ") + missing;
  return key;
}

TEST(LogTimeTest, EveryMonthAndZone) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int m = 1; m <= 12; ++m) {
    const std::string text = std::string("28/") + kMonths[m - 1] + "/2026:13:55:36 +0000";
    std::int64_t t = 0;
    ASSERT_TRUE(ParseClfTime(text, t)) << text;
    EXPECT_EQ(t, Utc(2026, m, 28, 13, 55, 36)) << text;
  }
  std::int64_t t = 0;
  ASSERT_TRUE(ParseClfTime("10/Oct/2000:13:55:36 -0700", t));
  EXPECT_EQ(t, Utc(2000, 10, 10, 20, 55, 36));
  ASSERT_TRUE(ParseClfTime("01/Jan/2026:03:00:00 +0530", t));
  EXPECT_EQ(t, Utc(2025, 12, 31, 21, 30, 0));
  ASSERT_TRUE(ParseClfTime("29/Feb/2024:00:00:00 +0000", t));  // a leap day
  for (const char* bad :
       {"29/Feb/2023:00:00:00 +0000", "31/Apr/2026:00:00:00 +0000", "10/oct/2000:13:55:36 -0700",
        "10/Okt/2000:13:55:36 -0700", "10/Oct/2000:24:00:00 +0000", "10/Oct/2000:13:60:00 +0000",
        "10/Oct/2000:13:55:36 0700", "10/Oct/2000:13:55:36 +07:00", "10/Oct/2000:13:55:36 +0760",
        "1/Oct/2000:13:55:36 +0000", "10/Oct/2000 13:55:36 +0000"}) {
    EXPECT_FALSE(ParseClfTime(bad, t)) << bad;
  }
  // Up to 2116-02-20 (half the int64 range of ns); later years overflowed (found by fuzzing).
  ASSERT_TRUE(ParseClfTime("01/Jan/2116:00:00:00 +0000", t));
  EXPECT_EQ(t, Utc(2116, 1, 1, 0, 0, 0));
  for (const char* late : {"01/Mar/2116:00:00:00 +0000", "31/Dec/9999:23:59:59 -2359"}) {
    EXPECT_FALSE(ParseClfTime(late, t)) << late;
  }
  EXPECT_FALSE(ParseIsoTime("9999-12-31T23:59:59Z", t));
  EXPECT_FALSE(ParseEpochTime("99999999999.5", t));
  EXPECT_FALSE(ParseEpochTime("4611686019.5", t));
  ASSERT_TRUE(ParseEpochTime("4611686018.5", t));
}

TEST(LogTimeTest, DaysFromCivilAgreesWithTimegm) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const int y = 1970 + static_cast<int>(rng() % 200);
    const auto m = static_cast<unsigned>(1 + rng() % 12);
    const auto d = static_cast<unsigned>(1 + rng() % 28);
    EXPECT_EQ(DaysFromCivil(y, m, d) * 86400 * kS,
              Utc(y, static_cast<int>(m), static_cast<int>(d), 0, 0, 0));
  }
}

TEST(LogTimeTest, IsoAndEpoch) {
  std::int64_t t = 0;
  ASSERT_TRUE(ParseIsoTime("2026-12-01T20:35:04+00:00", t));
  EXPECT_EQ(t, Utc(2026, 12, 1, 20, 35, 4));
  ASSERT_TRUE(ParseIsoTime("2026-12-01T20:35:04.250Z", t));
  EXPECT_EQ(t, Utc(2026, 12, 1, 20, 35, 4) + kS / 4);
  ASSERT_TRUE(ParseIsoTime("2026-12-01 22:35:04+0200", t));
  EXPECT_EQ(t, Utc(2026, 12, 1, 20, 35, 4));
  ASSERT_TRUE(ParseIsoTime("2026-12-01T15:35:04-05:00", t));
  EXPECT_EQ(t, Utc(2026, 12, 1, 20, 35, 4));
  EXPECT_FALSE(ParseIsoTime("2026-12-01T20:35:04", t));  // no zone: ambiguous
  EXPECT_FALSE(ParseIsoTime("2026-13-01T20:35:04Z", t));
  ASSERT_TRUE(ParseEpochTime("1764621304.123", t));  // nginx $msec
  EXPECT_EQ(t, 1764621304'123'000'000);
  ASSERT_TRUE(ParseEpochTime("1764621304", t));
  EXPECT_EQ(t, 1764621304 * kS);
  ASSERT_TRUE(ParseEpochTime("1764621304123", t));  // ms
  EXPECT_EQ(t, 1764621304'123'000'000);
  ASSERT_TRUE(ParseEpochTime("1764621304123456", t));  // us
  EXPECT_EQ(t, 1764621304'123'456'000);
  ASSERT_TRUE(ParseEpochTime("1764621304123456789", t));  // ns
  EXPECT_EQ(t, 1764621304'123'456'789);
  for (const char* bad : {"", "-1", "12a", "1.", ".5", "1e9", "99999999999999999999"}) {
    EXPECT_FALSE(ParseEpochTime(bad, t)) << bad;
  }
}

TEST(LogFormatTest, CombinedLines) {
  LogParser p = Parser(LogFormat::kCombined);
  std::int64_t t = 0;
  // nginx: `"` inside a field is written \x22; Apache writes \".
  EXPECT_EQ(KeyOf(p,
                  R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 200 2326 )"
                  R"("http://x/" "Mozilla/4.08 [en] (Win98; I ;Nav) x")",
                  &t),
            "ip=192.0.2.1");
  EXPECT_EQ(t, Utc(2000, 10, 10, 20, 55, 36));
  EXPECT_EQ(KeyOf(p, R"(192.0.2.2 - frank [10/Oct/2000:13:55:36 +0000] "GET /\"x\" HTTP/1.0" 404 -)"
                     R"( "-" "a \"quoted\" agent")"),
            "ip=192.0.2.2");
  EXPECT_EQ(KeyOf(p, R"(192.0.2.3 - - [10/Oct/2000:13:55:36 +0000] "GET /\x22x HTTP/1.1" 200 5 )"
                     R"("-" "curl/8.0" "203.0.113.9")"),  // a trailing extra field
            "ip=192.0.2.3");
  // IPv6 clients: canonical, IPv4-mapped as IPv4.
  EXPECT_EQ(KeyOf(p, R"(2001:DB8:0:0::1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 )"
                     R"("-" "-")"),
            "ip=2001:db8::1");
  EXPECT_EQ(KeyOf(p, R"(::ffff:192.0.2.9 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 )"
                     R"(1 "-" "-")"),
            "ip=192.0.2.9");
  // A request line that is no request is none sluiced decides, whatever the key: refused.
  EXPECT_TRUE(
      KeyOf(p, R"(192.0.2.4 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01" 400 150 "-" "-")")
          .starts_with("REFUSED: no request line"));
  EXPECT_TRUE(KeyOf(p, R"(192.0.2.4 - - [10/Oct/2000:13:55:36 +0000] "-" 400 0 "-" "-")")
                  .starts_with("REFUSED: no request line"));
  // Malformed.
  for (const char* bad : {
           "",
           "garbage",
           R"(192.0.2.1 - - 10/Oct/2000:13:55:36 +0000 "GET / HTTP/1.1" 200 1 "-" "-")",
           R"(192.0.2.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 1 "-" "-")",
           R"(192.0.2.1 - - [10/Foo/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-")",
           R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1 200 1 "-" "-)",
           R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 20x 1 "-" "-")",
           R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 x "-" "-")",
           R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1)",
           R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "unterminated)",
       }) {
    EXPECT_TRUE(KeyOf(p, bad).starts_with("MALFORMED")) << bad;
  }
}

TEST(LogFormatTest, CommonLinesAndKeyParts) {
  LogParser common = Parser(LogFormat::kCommon, "[ip, method, path]");
  EXPECT_EQ(KeyOf(common, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "POST /login?x HTTP/1.1" )"
                          R"(200 2326)"),
            "ip=192.0.2.1 method=POST path=/login");
  EXPECT_EQ(KeyOf(common, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET )"
                          R"(http://example.com/a/b?c HTTP/1.1" 200 -)"),
            "ip=192.0.2.1 method=GET path=/a/b");
  EXPECT_TRUE(KeyOf(common, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "-" 400 0)")
                  .starts_with("REFUSED"));
  // A combined line read as common: what follows the size is no business of the format.
  EXPECT_TRUE(KeyOf(common, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 )"
                            R"("-" "-")")
                  .starts_with("ip="));
  LogParser v64 = Parser(LogFormat::kCombined, "ip/64,header:User-Agent");
  EXPECT_EQ(KeyOf(v64, R"(2001:db8:1:2:3:4:5:6 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" )"
                       R"(200 1 "-" "curl/8.0")"),
            "ip/64=2001:db8:1:2::/64 header=curl/8.0");
  EXPECT_EQ(KeyOf(v64, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" )"
                       R"("curl/8.0")"),
            "ip/64=192.0.2.1 header=curl/8.0");
  EXPECT_TRUE(KeyOf(v64, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" )"
                         R"("-")")
                  .starts_with("NOKEY"));
  LogParser referer = Parser(LogFormat::kCombined, "header:referer");
  EXPECT_EQ(KeyOf(referer, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 )"
                           R"("http://a/\"b" "-")"),
            R"(header=http://a/\"b)");
}

// The path key is the path sluiced's policies see: normalised by net/http's NormalisePath, so
// every spelling of one path is one key; and what sluiced would answer 400 is refused.
TEST(LogFormatTest, PathsAreNormalisedAsSluicedNormalisesThem) {
  LogParser p = Parser(LogFormat::kCombined, "path");
  const auto line = [](const char* request) {
    return absl::StrCat(R"(192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] ")", request,
                        R"(" 200 1 "-" "-")");
  };
  for (const char* spelling :
       {"GET /login HTTP/1.1", "GET /%6Cogin HTTP/1.1", "GET /%6c%6F%67%69%6E HTTP/1.1",
        "GET //login HTTP/1.1", "GET /./login HTTP/1.1", "GET /a/../login HTTP/1.1",
        "GET /a/b/%2E%2E/%2e%2e/login?next=/x HTTP/1.1", "GET ///.//login HTTP/1.0",
        "GET /x%2F..%2Flogin HTTP/1.1", "GET http://example.com//login HTTP/1.1",
        "GET https://example.com:8443/./login?a HTTP/1.1"}) {
    EXPECT_EQ(KeyOf(p, line(spelling)), "path=/login") << spelling;
  }
  EXPECT_EQ(KeyOf(p, line("GET /login/ HTTP/1.1")), "path=/login/");  // a different path
  EXPECT_EQ(KeyOf(p, line("GET /Login HTTP/1.1")), "path=/Login");    // case-sensitive
  EXPECT_EQ(KeyOf(p, line("GET http://example.com HTTP/1.1")), "path=/");
  EXPECT_EQ(KeyOf(p, line("OPTIONS * HTTP/1.1")), "path=*");
  EXPECT_EQ(KeyOf(p, line("CONNECT example.com:443 HTTP/1.1")), "path=example.com:443");
  // nginx writes a '\' or a byte outside visible ASCII as \xHH: undone before normalising.
  EXPECT_EQ(KeyOf(p, line(R"(GET /a\x5Cb HTTP/1.1)")), R"(path=/a\b)");
  EXPECT_EQ(KeyOf(p, line(R"(GET /a\"b HTTP/1.1)")), R"(path=/a"b)");  // Apache's \"
  // What sluiced refuses with a 400 before any policy, refused whatever the key.
  LogParser by_ip = Parser(LogFormat::kCombined);
  for (const char* refused :
       {"GET /%zz HTTP/1.1", "GET /a%00b HTTP/1.1", "GET /a%0Ab HTTP/1.1", "GET /.. HTTP/1.1",
        "GET /a/../../b HTTP/1.1", "GET /a#b HTTP/1.1", "get /a HTTP/1.1", "G\x45T? /a HTTP/1.1",
        R"(GET /a\x80 HTTP/1.1)", R"(GET /a\x01 HTTP/1.1)", "GET a/b HTTP/1.1",
        "GET http://a@b/ HTTP/1.1", "GET * HTTP/1.1", "CONNECT example.com HTTP/1.1"}) {
    EXPECT_TRUE(KeyOf(p, line(refused)).starts_with("REFUSED: sluiced refuses")) << refused;
    EXPECT_TRUE(KeyOf(by_ip, line(refused)).starts_with("REFUSED: sluiced refuses")) << refused;
  }
  // JSON logs: the request_uri field, or the request line.
  LogParser json = Parser(LogFormat::kJson, "[method, path]");
  EXPECT_EQ(KeyOf(json, R"({"time":1,"request_method":"GET","request_uri":"/a/./b//c?d"})"),
            "method=GET path=/a/b/c");
  EXPECT_EQ(KeyOf(json, R"({"time":1,"request":"POST /%61/b HTTP/1.1"})"), "method=POST path=/a/b");
  EXPECT_TRUE(KeyOf(json, R"({"time":1,"request_method":"GET","request_uri":"/%zz"})")
                  .starts_with("REFUSED"));
  EXPECT_TRUE(
      KeyOf(json, R"({"time":1,"request_method":"get","request_uri":"/"})").starts_with("REFUSED"));
  // A JSON log without a method or target says nothing sluiced would refuse.
  LogParser json_ip = Parser(LogFormat::kJson);
  EXPECT_EQ(KeyOf(json_ip, R"({"time":1,"remote_addr":"192.0.2.1"})"), "ip=192.0.2.1");
}

// Found by fuzzing: a time of 26 NUL bytes matched the empty time cache of a fresh parser and
// read as 1970-01-01, while a parser that had seen a line refused it.
TEST(LogFormatTest, ATimeOfNulBytesIsMalformedInAFreshParser) {
  LogParser p = Parser(LogFormat::kCombined);
  const std::string line = std::string("192.0.2.1 - - [") + std::string(kClfTimeSize, '\0') +
                           R"(] "GET / HTTP/1.1" 200 1 "-" "-")";
  EXPECT_TRUE(KeyOf(p, line).starts_with("MALFORMED: bad time")) << KeyOf(p, line);
}

TEST(LogFormatTest, KeyPartsAFormatCannotHaveAreErrors) {
  for (const auto& [format, key] :
       std::vector<std::pair<LogFormat, std::string>>{{LogFormat::kCommon, "header:user-agent"},
                                                      {LogFormat::kCombined, "header:x-api-key"},
                                                      {LogFormat::kSluiced, "path"},
                                                      {LogFormat::kSluiced, "ip,method"}}) {
    LogParserOptions o;
    o.format = format;
    o.key = *KeySpec::Parse(key);
    EXPECT_FALSE(LogParser::Create(o).ok()) << key;
  }
  LogParserOptions o;
  o.format = LogFormat::kJson;
  o.key = *KeySpec::Parse("ip");
  o.fields.key = "client";
  EXPECT_FALSE(LogParser::Create(o).ok());
}

TEST(LogFormatTest, JsonLines) {
  LogParser p = Parser(LogFormat::kJson, "[ip, path, header:x-api-key]");
  std::int64_t t = 0;
  EXPECT_EQ(KeyOf(p,
                  R"({"time":"2026-12-01T20:35:04+00:00","remote_addr":"192.0.2.1",)"
                  R"("request_uri":"/api/x?y=1","http_x_api_key":"k1","nested":{"a":[1,"}"]}})",
                  &t),
            "ip=192.0.2.1 path=/api/x header=k1");
  EXPECT_EQ(t, Utc(2026, 12, 1, 20, 35, 4));
  // Escaped quotes and unicode in values; the request field when path is absent; spaces.
  EXPECT_EQ(KeyOf(p,
                  R"( { "time" : 1764621304.5 , "remote_addr" : "2001:db8::1", )"
                  R"("request" : "GET /a\"b HTTP/1.1", "http_x_api_key" : "k\u00e9\"" } )",
                  &t),
            "ip=2001:db8::1 path=/a\"b header=k\xc3\xa9\"");
  EXPECT_EQ(t, 1764621304 * kS + kS / 2);
  EXPECT_TRUE(KeyOf(p, R"({"time":"2026-12-01T20:35:04Z","remote_addr":"192.0.2.1",)"
                       R"("request_uri":"/x","http_x_api_key":null})")
                  .starts_with("NOKEY"));
  for (const char* bad : {
           R"(not json)",
           R"({"time":"2026-12-01T20:35:04Z","remote_addr":"192.0.2.1")",
           R"({"remote_addr":"192.0.2.1"})",
           R"({"time":"yesterday","remote_addr":"192.0.2.1"})",
           R"({"time":"2026-12-01T20:35:04Z" "remote_addr":"192.0.2.1"})",
           R"({"time":"2026-12-01T20:35:04Z","remote_addr":"192.0.2.1\q"})",
           R"({"time":"2026-12-01T20:35:04Z"} trailing)",
       }) {
    EXPECT_TRUE(KeyOf(p, bad).starts_with("MALFORMED")) << bad;
  }
  // --field names, a ready key and a cost.
  LogFields fields;
  ASSERT_TRUE(ApplyFieldFlag("time=ts, key=client_ip,cost=weight", fields).ok());
  LogParser named = Parser(LogFormat::kJson, "", fields);
  LogLine line;
  const char* why = nullptr;
  ASSERT_EQ(named.Parse(R"({"ts":1764621304123,"client_ip":"abc","weight":3})", line, why),
            LogParser::Result::kOk);
  EXPECT_EQ(line.t_ns, 1764621304'123'000'000);
  EXPECT_EQ(line.cost, 3u);
  EXPECT_EQ(KeyOf(named, R"({"ts":1764621304123,"client_ip":"abc"})"), "abc");
  EXPECT_FALSE(ApplyFieldFlag("nope=x", fields).ok());
  EXPECT_FALSE(ApplyFieldFlag("time", fields).ok());
  EXPECT_FALSE(ApplyFieldFlag("header:bad name=x", fields).ok());
}

TEST(LogFormatTest, SluicedDecisionLog) {
  LogParser p = Parser(LogFormat::kSluiced);
  std::int64_t t = 0;
  const std::string denial =
      R"({"time_ns":1764621304000000001,"client":"127.0.0.1","policy":"per-ip",)"
      R"("key":"ip=127.0.0.1 path=\"x\"","status":429,"retry_after_ns":99})";
  EXPECT_EQ(KeyOf(p, denial, &t), "ip=127.0.0.1 path=\"x\"");
  EXPECT_EQ(t, 1764621304000000001);
  LogParser by_ip = Parser(LogFormat::kSluiced, "ip");
  EXPECT_EQ(KeyOf(by_ip, R"({"time_ns":1,"client":"10.0.0.1","forwarded_client":"2001:db8::7",)"
                         R"("policy":"p","key":"header=a","status":200,"retry_after_ns":0})"),
            "ip=2001:db8::7");
  LogParser only = Parser(LogFormat::kSluiced, "", {}, "api");
  EXPECT_EQ(KeyOf(only, denial), "SKIPPED");
  EXPECT_TRUE(KeyOf(p, R"({"time_ns":"1","client":"10.0.0.1","policy":"p","key":"k"})")
                  .starts_with("MALFORMED"));
}

TEST(KeySpecTest, AcceptsSluicedSpellings) {
  for (const char* good : {"ip", "ip/64", "path", "method", "header:x-api-key", "header:X-K",
                           "ip,path", "[ip, path]", " [ ip , header:a ] "}) {
    EXPECT_TRUE(KeySpec::Parse(good).ok()) << good;
  }
  EXPECT_EQ(KeySpec::Parse("header:X-Api-Key")->ToString(), "header:x-api-key");
  EXPECT_EQ(KeySpec::Parse("[ip, path]")->ToString(), "[ip, path]");
  for (const char* bad : {"", "IP", "ip/48", "header:", "header:a b", "host", "ip,", "[]",
                          "ip,ip,ip,ip,ip,ip,ip,ip,ip"}) {
    EXPECT_FALSE(KeySpec::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace sluice::sim
