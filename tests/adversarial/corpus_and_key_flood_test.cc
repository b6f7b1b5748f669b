// Hostile requests against the real sluiced. A corpus of malformed and smuggling requests,
// each answered with a 4xx/5xx and a close while a well-behaved client on the same shard keeps
// getting 200s (and the same corpus as load, from many connections at once); and a flood of
// distinct keys (200k; a million in the full form) into a 64k-key table that cannot reset a
// limited key nor grow memory. Every wait polls a condition against a deadline; nothing
// asserts a timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adversarial.h"
#include "harness.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

// A string literal with its embedded NUL bytes (std::string(const char*) stops at the first).
template <std::size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

const std::string kHost = "Host: a\r\n";
std::string Post(const std::string& headers, const std::string& body = "") {
  return "POST /up HTTP/1.1\r\n" + kHost + headers + "\r\n" + body;
}
std::string Chunked(const std::string& body) {
  return Post("Transfer-Encoding: chunked\r\n", body);
}

struct BadCase {
  const char* name;
  std::string raw;
  // Requests answered before the error: a valid head whose body framing is bad is answered
  // (200) before the body is read, then the framing error gets a 400 and the close.
  int answered_first = 0;
};

std::vector<BadCase> Corpus() {
  std::vector<BadCase> c = {
      // Request smuggling: framing conflicts and framing headers a lenient peer reads otherwise.
      {"cl_te", Post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\nG")},
      {"te_cl",
       Post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "8\r\nSMUGGLED\r\n0\r\n\r\n")},
      {"cl_te_lowercase", Post("content-length: 3\r\ntransfer-encoding: CHUNKED\r\n", "abc")},
      {"duplicate_cl", Post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!")},
      {"cl_list_differs", Post("Content-Length: 5, 6\r\n", "hello!")},
      {"cl_negative", Post("Content-Length: -1\r\n")},
      {"cl_plus", Post("Content-Length: +5\r\n", "hello")},
      {"cl_hex", Post("Content-Length: 0x5\r\n", "hello")},
      {"cl_empty", Post("Content-Length: \r\n")},
      {"cl_space_inside", Post("Content-Length: 1 2\r\n", "hello world!")},
      {"cl_overflow", Post("Content-Length: 99999999999999999999999\r\n")},
      {"cl_empty_list_element", Post("Content-Length: 5,\r\n", "hello")},
      {"te_space_before_colon", Post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n")},
      {"te_obs_fold", Post("Transfer-Encoding: gzip\r\n chunked\r\n", "0\r\n\r\n")},
      {"te_tab_fold", Post("X-A: b\r\n\tTransfer-Encoding: chunked\r\n", "0\r\n\r\n")},
      {"te_vertical_tab", Post("Transfer-Encoding:\x0b"
                               "chunked\r\n",
                               "0\r\n\r\n")},
      {"te_unknown", Post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n")},
      {"te_quoted", Post("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n")},
      {"te_identity", Post("Transfer-Encoding: identity\r\n", "")},
      {"te_chunked_not_last", Post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n")},
      {"te_chunked_twice", Post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n")},
      {"te_two_lines",
       Post("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", "0\r\n\r\n")},
      {"te_on_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"te_nul", Post(Bytes("Transfer-Encoding: chunked\0\r\n"), "0\r\n\r\n")},
      // Line endings and control bytes.
      {"bare_lf_request_line", "GET / HTTP/1.1\n" + kHost + "\r\n"},
      {"bare_lf_header", "GET / HTTP/1.1\r\nHost: a\n\r\n"},
      {"bare_lf_everywhere", "GET / HTTP/1.1\nHost: a\n\n"},
      {"bare_cr_header", "GET / HTTP/1.1\r\nHost: a\rX-B: c\r\n\r\n"},
      {"leading_bare_lf", "\nGET / HTTP/1.1\r\n" + kHost + "\r\n"},
      {"nul_in_value", Bytes("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n")},
      {"nul_in_target", Bytes("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n")},
      {"nul_in_method", Bytes("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n")},
      {"del_in_value",
       "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f"
       "b\r\n\r\n"},
      {"escape_in_value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n"},
      // Request lines.
      {"method_with_space", "G ET / HTTP/1.1\r\n" + kHost + "\r\n"},
      {"method_with_slash", "GE/T / HTTP/1.1\r\n" + kHost + "\r\n"},
      {"method_utf8", "G\xc3\xa9T / HTTP/1.1\r\n" + kHost + "\r\n"},
      {"method_huge", std::string(9000, 'A') + " / HTTP/1.1\r\n" + kHost + "\r\n"},
      {"tab_separator", "GET\t/ HTTP/1.1\r\n" + kHost + "\r\n"},
      {"two_spaces", "GET  / HTTP/1.1\r\n" + kHost + "\r\n"},
      {"trailing_space", "GET / HTTP/1.1 \r\n" + kHost + "\r\n"},
      {"lowercase_http", "GET / http/1.1\r\n" + kHost + "\r\n"},
      {"http09", "GET /\r\n\r\n"},
      {"http2", "GET / HTTP/2.0\r\n" + kHost + "\r\n"},
      {"http12", "GET / HTTP/1.2\r\n" + kHost + "\r\n"},
      {"http_leading_zero", "GET / HTTP/01.1\r\n" + kHost + "\r\n"},
      {"h2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
      {"target_relative", "GET foo HTTP/1.1\r\n" + kHost + "\r\n"},
      {"target_asterisk_get", "GET * HTTP/1.1\r\n" + kHost + "\r\n"},
      {"target_high_bit", "GET /\x80 HTTP/1.1\r\n" + kHost + "\r\n"},
      {"uri_too_long", "GET /" + std::string(5000, 'u') + " HTTP/1.1\r\n" + kHost + "\r\n"},
      // Spellings that would step around a limit (issue #11): refused, never matched.
      {"method_lowercase", "post / HTTP/1.1\r\n" + kHost + "\r\n"},
      {"fragment", "POST /login#7 HTTP/1.1\r\n" + kHost + "\r\n"},
      {"fragment_in_authority", "GET http://h#x/login2 HTTP/1.1\r\n" + kHost + "\r\n"},
      {"authority_unclosed", "GET http://[::1 HTTP/1.1\r\n" + kHost + "\r\n"},
      {"authority_userinfo", "GET http://user@h/ HTTP/1.1\r\n" + kHost + "\r\n"},
      {"path_bad_escape", "GET /%zz HTTP/1.1\r\n" + kHost + "\r\n"},
      {"path_encoded_nul", "GET /a%00 HTTP/1.1\r\n" + kHost + "\r\n"},
      {"path_encoded_crlf", "GET /a%0d%0aX:y HTTP/1.1\r\n" + kHost + "\r\n"},
      {"path_above_root", "GET /../etc HTTP/1.1\r\n" + kHost + "\r\n"},
      {"path_encoded_above_root", "GET /%2e%2e/x HTTP/1.1\r\n" + kHost + "\r\n"},
      {"te_gzip_chunked", Post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n")},
      {"key_header_twice", "GET / HTTP/1.1\r\n" + kHost + "X-Key: b\r\nx-key: a\r\n\r\n"},
      // Header fields.
      {"no_host", "GET / HTTP/1.1\r\n\r\n"},
      {"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n"},
      {"space_before_colon", "GET / HTTP/1.1\r\n" + kHost + "X-A : b\r\n\r\n"},
      {"empty_name", "GET / HTTP/1.1\r\n" + kHost + ": b\r\n\r\n"},
      {"no_colon", "GET / HTTP/1.1\r\n" + kHost + "Foo\r\n\r\n"},
      {"first_line_folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
      {"name_utf8", "GET / HTTP/1.1\r\n" + kHost + "X-\xc3\xa9: b\r\n\r\n"},
      {"too_many_headers", "GET / HTTP/1.1\r\n" + kHost +
                               [] {
                                 std::string h;
                                 for (int i = 0; i < 80; ++i)
                                   h += "X-H" + std::to_string(i) + ": v\r\n";
                                 return h;
                               }() +
                               "\r\n"},
      {"head_too_large",
       "GET / HTTP/1.1\r\n" + kHost + "X-Big: " + std::string(9000, 'b') + "\r\n\r\n"},
      // Chunked framing (the head is valid and answered first).
      {"chunk_size_overflow", Chunked("FFFFFFFFFFFFFFFFF\r\n"), 1},
      {"chunk_size_17_digits", Chunked("00000000000000001\r\nx\r\n0\r\n\r\n"), 1},
      {"chunk_size_not_hex", Chunked("zz\r\n"), 1},
      {"chunk_size_negative", Chunked("-1\r\n"), 1},
      {"chunk_size_0x", Chunked("0x3\r\nabc\r\n0\r\n\r\n"), 1},
      {"chunk_bare_lf", Chunked("3\nabc\n0\n\n"), 1},
      {"chunk_data_too_long", Chunked("3\r\nabcd\r\n0\r\n\r\n"), 1},
      {"chunk_nul_size", Chunked(Bytes("\0\r\n")), 1},
      {"chunk_ext_too_long", Chunked("1;" + std::string(1100, 'e') + "\r\nx\r\n0\r\n\r\n"), 1},
      {"trailer_too_long", Chunked("0\r\nX-T: " + std::string(9000, 't') + "\r\n\r\n"), 1},
  };
  return c;
}

// 1. The corpus, one connection per case, against a single shard. Each is answered once with a
// 4xx/5xx (after the 200 of its head, for bad chunked bodies) and closed; nothing after the bad
// bytes is answered. Meanwhile a keep-alive client on the same shard keeps getting 200s.
TEST(AdversarialCorpusTest, MalformedRequestsAreAnsweredAndClosedWhileOthersAreServed) {
  Sluiced server(
      "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\n"
      "policies:\n  - {name: per-key, key: 'header:x-key', rate: 1/h, burst: 5}\n");
  START_OR_SKIP(server);

  // Requests without x-key match no policy: 200 without rate-limit headers, forever.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::atomic<int> failed{0};
  std::thread bystander([&] {
    Client c(server.port());
    while (!stop.load(std::memory_order_relaxed)) {
      const auto r = c.Send(Request("/ok")) ? c.Read() : std::nullopt;
      (r && r->status == 200 ? served : failed).fetch_add(1, std::memory_order_relaxed);
      if (!r) return;
    }
  });

  const std::vector<BadCase> corpus = Corpus();
  ASSERT_GE(corpus.size(), 50u);
  const auto served_at_least = [&](int n) {
    return PollUntil([&] { return served.load(std::memory_order_relaxed) >= n; }, 10s);
  };
  EXPECT_TRUE(served_at_least(1));
  for (const BadCase& bad : corpus) {
    SCOPED_TRACE(bad.name);
    Client c(server.port());
    ASSERT_TRUE(c.connected());
    c.Send(bad.raw);  // may fail part-way once the server has answered and shut its side
    const auto stream = c.ReadToEof();
    ASSERT_TRUE(stream.has_value()) << "no close within the timeout";
    const std::vector<int> statuses = Statuses(*stream);
    ASSERT_EQ(statuses.size(), static_cast<std::size_t>(bad.answered_first) + 1) << *stream;
    for (std::size_t i = 0; i + 1 < statuses.size(); ++i) EXPECT_EQ(statuses[i], 200) << *stream;
    EXPECT_GE(statuses.back(), 400) << *stream;
    EXPECT_LE(statuses.back(), 599) << *stream;
  }
  // The bystander is still being served after the whole corpus (its next answers come).
  EXPECT_TRUE(served_at_least(served.load(std::memory_order_relaxed) + 10));
  stop.store(true, std::memory_order_relaxed);
  bystander.join();

  EXPECT_EQ(failed.load(std::memory_order_relaxed), 0);
  const auto after = Get(server.port(), Request("/after"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, 200);
  // One parse error per case, each under some kind (bad_body_framing for the chunked ones).
  EXPECT_TRUE(
      PollUntil([&] { return server.Metric("sluice_parse_errors_total") >= corpus.size(); }, 10s));
  EXPECT_EQ(server.Metric("sluice_parse_errors_total"), corpus.size());
  // The smuggling shapes are refused for the right reason, not merely with some 4xx.
  const auto kind = [&](const std::string& k) {
    return server.Metric("sluice_parse_errors_total{kind=\"" + k + "\"}");
  };
  EXPECT_EQ(kind("length_and_chunked"), 3u);  // cl_te, te_cl, cl_te_lowercase
  EXPECT_EQ(kind("obs_fold"), 3u);            // te_obs_fold, te_tab_fold, first_line_folded
  // no_host, two_hosts: also checks every kind has its own counter (bad_host once landed
  // past the end of the per-kind array, in the bad_body_framing counter).
  EXPECT_EQ(kind("bad_host"), 2u);
  const auto bodies = std::count_if(corpus.begin(), corpus.end(),
                                    [](const BadCase& b) { return b.answered_first > 0; });
  EXPECT_EQ(kind("bad_body_framing"), static_cast<std::uint64_t>(bodies));
  EXPECT_TRUE(server.Running());
}

// 2. The corpus as load: several connections at once, each sending every case in turn, for
// some rounds. Each case is answered exactly as when alone; afterwards the server is back to
// its baseline and the victim is still limited.
TEST(AdversarialCorpusTest, TheCorpusAsLoadFromManyConnections) {
  const int threads = Scaled(4, 8);
  const int rounds = Scaled(2, 25);
  Sluiced server(ScenarioConfig());
  START_OR_SKIP(server);
  Scenario scenario(server, "malformed corpus as load");
  scenario.Begin();
  if (HasFatalFailure()) return;
  const std::uint64_t errors_before = server.Metric("sluice_parse_errors_total");
  const std::vector<BadCase> corpus = Corpus();
  std::atomic<int> wrong{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int round = 0; round < rounds; ++round) {
        for (const BadCase& bad : corpus) {
          Client c(server.port(), 10s);
          c.Send(bad.raw);
          const auto stream = c.ReadToEof();
          const std::vector<int> statuses = stream ? Statuses(*stream) : std::vector<int>{};
          const bool ok = statuses.size() == static_cast<std::size_t>(bad.answered_first) + 1 &&
                          statuses.back() >= 400 && statuses.back() <= 599;
          if (!ok && wrong.fetch_add(1) < 5) {
            ADD_FAILURE() << bad.name << ": " << (stream ? *stream : "no close");
          }
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(wrong.load(), 0);
  const auto expected =
      static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(rounds) * corpus.size();
  EXPECT_TRUE(PollUntil(
      [&] { return server.Metric("sluice_parse_errors_total") - errors_before == expected; }, 10s))
      << server.Metric("sluice_parse_errors_total") - errors_before << " of " << expected;
  scenario.End(16 * 1024);
}

// 3. A flood of 200k (full form: a million) distinct keys into a 65536-key table (when_full: evict)
// cannot reset a key that was over its limit. Eviction takes the live slot with the smallest TAT:
// the victim has used its whole burst of 2 (TAT = t0 + 2h) while each flood key used one request
// (TAT = t + 1h, t within minutes of t0), so in any bucket the victim's TAT is the largest and
// it is never the one evicted. The flood does evict (the table is far too small), which the
// counter shows, and every flood key, being new, is admitted.
TEST(AdversarialKeyFloodTest, KeyFloodDoesNotResetALimitedKey) {
  Sluiced server(
      "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\n"
      "table: {capacity: 65536, when_full: evict}\n"
      "policies:\n  - {name: per-key, key: 'header:x-key', rate: 1/h, burst: 2}\n");
  START_OR_SKIP(server);
  ASSERT_EQ(server.Metric("sluice_table_capacity_keys"), 65536u);

  const std::string victim = Request("/", "x-key: victim\r\n");
  Client c(server.port(), 30s);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send(victim));
    const auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_TRUE(c.Send(victim));
  auto denied = c.Read();
  ASSERT_TRUE(denied.has_value());
  ASSERT_EQ(denied->status, 429);
  // The table is allocated at start: the flood must not grow memory (the one connection's
  // buffers exist already: it has been answered above).
  const long rss_before = server.RssKib();
  const long fds_before = server.OpenFds();
  const auto start = std::chrono::steady_clock::now();

  const int flood = Scaled(200'000, 1'000'000);
  constexpr int kBatch = 256;  // pipelined per send: well under the output limit of a read
  int admitted = 0;
  for (int sent = 0; sent < flood; sent += kBatch) {
    std::string batch;
    const int n = std::min(kBatch, flood - sent);
    for (int i = 0; i < n; ++i) {
      batch += Request("/", "x-key: flood-" + std::to_string(sent + i) + "\r\n");
    }
    ASSERT_TRUE(c.Send(batch));
    for (int i = 0; i < n; ++i) {
      const auto r = c.Read();
      ASSERT_TRUE(r.has_value()) << "flood request " << sent + i;
      if (r->status == 200) ++admitted;
    }
  }
  EXPECT_EQ(admitted, flood);

  ASSERT_TRUE(c.Send(victim));
  denied = c.Read();
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->status, 429) << "the flood reset the victim's state";

  // 200,001 keys were installed into 65,536 slots, none of which expired: every install past
  // the free slots evicted someone.
  EXPECT_GE(server.Metric("sluice_table_events_total{event=\"evict\"}"),
            static_cast<std::uint64_t>(flood + 1 - 65536));
  EXPECT_EQ(server.Metric("sluice_table_capacity_keys"), 65536u);
  const long rss_after = server.RssKib();
  if (CheckRss()) {
    // The table's 1 MiB may be touched for the first time by the flood: a fixed bound.
    EXPECT_LT(rss_after - rss_before, 8 * 1024)
        << "RSS grew from " << rss_before << " to " << rss_after << " KiB";
  }
  // Another client is served; descriptors are as before (the flood's connection included).
  const auto other = Get(server.port(), Request("/other"));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 200);
  EXPECT_TRUE(PollUntil([&] { return server.OpenFds() <= fds_before + 1; }, 10s))
      << "open fds " << server.OpenFds() << " (before " << fds_before << ")";
  std::printf(
      "[adversarial] key flood of %d keys (%s form): %.1f s; RSS %ld -> %ld KiB; "
      "fds %ld -> %ld\n",
      flood, FullForm() ? "full" : "short",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), rss_before,
      rss_after, fds_before, server.OpenFds());
  EXPECT_TRUE(server.Running());
}

}  // namespace
}  // namespace sluice::e2e
