// Oversized bodies and hostile chunk sizes, as load: many connections at once, each streaming
// a body the server must skip without buffering (a Content-Length of gigabytes, a chunk of
// 2^60 bytes, tens of megabytes actually sent in the full form) or sending chunked framing it
// must refuse (a size over 64 bits, a size line too long, an endless extension). Bodies with
// an exact length are followed by another request on the same connection, which must be
// answered: the skipping is exact. Meanwhile a bystander is served.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

std::string PostHead(const std::string& framing) {
  return "POST /upload HTTP/1.1\r\nHost: b\r\n" + framing + "\r\n";
}

enum class Kind {
  kHugeLength,         // Content-Length: 10 GiB; stream part of it, then reset
  kExactLength,        // Content-Length: N; stream N, then another request on the connection
  kHugeChunk,          // one chunk of 2^60-1 bytes; stream part of it, then reset
  kManyChunks,         // N bytes in 4 KiB chunks, the last chunk, then another request
  kChunkSizeOverflow,  // 18 hex digits: more than 64 bits
  kChunkSizeLineLong,  // a size line of 4096 zeros then 1
  kChunkExtFlood,      // one extension longer than the per-body cap
  kChunkExtPerChunk,   // small extensions on many chunks: past the per-body cap in total
  kCount
};

// Sends `bytes` of body filler in 64 KiB writes.
bool Stream(Client& c, std::size_t bytes) {
  static const std::string filler(65536, 'z');
  while (bytes > 0) {
    const std::size_t n = std::min(bytes, filler.size());
    if (!c.Send(filler.substr(0, n))) return false;
    bytes -= n;
  }
  return true;
}

// Runs one connection of `kind`; returns an empty string on success, else what went wrong.
std::string RunOne(std::uint16_t port, Kind kind, std::size_t body_bytes) {
  Client c(port, 10s);
  if (!c.connected()) return "connect failed";
  const auto answered_200 = [&]() {
    const auto r = c.Read();
    return r.has_value() && r->status == 200;
  };
  // A head with a body is answered before the body is read.
  const auto refused_after_head = [&](const std::string& body) -> std::string {
    (void)c.Send(body);  // may fail part-way once the server has answered and shut its side
    const auto stream = c.ReadToEof();
    if (!stream) return "no close";
    const std::vector<int> s = Statuses(*stream);
    if (s.size() != 2 || s[0] != 200 || s[1] != 400) return "statuses: " + *stream;
    return "";
  };
  switch (kind) {
    case Kind::kHugeLength:
      if (!c.Send(PostHead("Content-Length: 10737418240\r\n")) || !answered_200()) {
        return "huge length: head not answered";
      }
      if (!Stream(c, body_bytes)) return "huge length: stream cut";
      c.Reset();
      return "";
    case Kind::kExactLength:
      if (!c.Send(PostHead("Content-Length: " + std::to_string(body_bytes) + "\r\n")) ||
          !answered_200()) {
        return "exact length: head not answered";
      }
      if (!Stream(c, body_bytes) || !c.Send(Request("/next")) || !answered_200()) {
        return "exact length: the request after the body was not answered";
      }
      return "";
    case Kind::kHugeChunk:
      if (!c.Send(PostHead("Transfer-Encoding: chunked\r\n") + "fffffffffffffff\r\n") ||
          !answered_200()) {
        return "huge chunk: head not answered";
      }
      if (!Stream(c, body_bytes)) return "huge chunk: stream cut";
      c.Reset();
      return "";
    case Kind::kManyChunks: {
      if (!c.Send(PostHead("Transfer-Encoding: chunked\r\n")) || !answered_200()) {
        return "many chunks: head not answered";
      }
      const std::string chunk = "1000\r\n" + std::string(4096, 'c') + "\r\n";
      std::string burst;
      for (int i = 0; i < 16; ++i) burst += chunk;
      for (std::size_t sent = 0; sent < body_bytes; sent += 16 * 4096) {
        if (!c.Send(burst)) return "many chunks: stream cut";
      }
      if (!c.Send("0\r\n\r\n" + Request("/next")) || !answered_200()) {
        return "many chunks: the request after the body was not answered";
      }
      return "";
    }
    case Kind::kChunkSizeOverflow:
      if (!c.Send(PostHead("Transfer-Encoding: chunked\r\n"))) return "send failed";
      return refused_after_head("ffffffffffffffffff\r\n" + std::string(1000, 'x'));
    case Kind::kChunkSizeLineLong:
      if (!c.Send(PostHead("Transfer-Encoding: chunked\r\n"))) return "send failed";
      return refused_after_head(std::string(4096, '0') + "1\r\nx\r\n0\r\n\r\n");
    case Kind::kChunkExtFlood: {
      if (!c.Send(PostHead("Transfer-Encoding: chunked\r\n"))) return "send failed";
      std::string ext = "1";
      for (int i = 0; i < 2000; ++i) ext += ";name=value";
      return refused_after_head(ext + "\r\nx\r\n0\r\n\r\n");
    }
    case Kind::kChunkExtPerChunk: {
      if (!c.Send(PostHead("Transfer-Encoding: chunked\r\n"))) return "send failed";
      std::string body;
      for (int i = 0; i < 2000; ++i) body += "1;e=v\r\nx\r\n";
      return refused_after_head(body + "0\r\n\r\n");
    }
    case Kind::kCount:
      break;
  }
  return "bad kind";
}

TEST(AdversarialBodiesTest, OversizedBodiesAndHostileChunkSizesUnderLoad) {
  const int connections = Scaled(16, 32);  // at once
  const int rounds = Scaled(2, 4);
  // Streamed per connection that streams: 1 MiB (short), 32 MiB (full).
  const std::size_t body_bytes = std::size_t{1} << Scaled(20, 25);
  Sluiced server(ScenarioConfig("{idle_timeout_ms: 60000}"));
  START_OR_SKIP(server);
  Scenario scenario(server, "oversized bodies and chunk sizes");
  scenario.Begin();
  if (HasFatalFailure()) return;
  const std::uint64_t framing_before = server.Metric("sluice_parse_errors_total");

  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::atomic<int> bystander_failed{0};
  std::thread bystander([&] {
    Client keep(server.port(), 10s);
    while (!stop.load(std::memory_order_relaxed)) {
      const auto r = keep.Send(Request("/ok")) ? keep.Read() : std::nullopt;
      const bool ok = r && r->status == 200;
      (ok ? served : bystander_failed).fetch_add(1, std::memory_order_relaxed);
      if (!ok) return;
      std::this_thread::sleep_for(10ms);
    }
  });

  std::atomic<int> refusals{0};
  std::vector<std::string> errors(static_cast<std::size_t>(connections));
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::thread> threads;
    for (int i = 0; i < connections; ++i) {
      threads.emplace_back([&, i] {
        const auto kind = static_cast<Kind>((i + round) % static_cast<int>(Kind::kCount));
        if (kind >= Kind::kChunkSizeOverflow) refusals.fetch_add(1, std::memory_order_relaxed);
        std::string e = RunOne(server.port(), kind, body_bytes);
        if (!e.empty()) {
          errors[static_cast<std::size_t>(i)] = "kind " + std::to_string(static_cast<int>(kind)) +
                                                " round " + std::to_string(round) + ": " + e;
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& e : errors) EXPECT_TRUE(e.empty()) << e;
    errors.assign(errors.size(), "");
  }
  stop.store(true, std::memory_order_relaxed);
  bystander.join();
  EXPECT_EQ(bystander_failed.load(), 0);
  EXPECT_GT(served.load(), 0);
  // Each refused body counts one framing error (and nothing else a parse error).
  EXPECT_TRUE(PollUntil(
      [&] {
        return server.Metric("sluice_parse_errors_total") - framing_before ==
               static_cast<std::uint64_t>(refusals.load());
      },
      10s))
      << server.Metric("sluice_parse_errors_total") - framing_before << " parse errors, "
      << refusals.load() << " refused bodies";
  // Bodies are skipped, never buffered: what a connection holds is a head buffer at most.
  scenario.End(16 * 1024 + connections * 64L);
}

}  // namespace
}  // namespace sluice::e2e
