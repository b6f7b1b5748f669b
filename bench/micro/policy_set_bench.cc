// PolicySet::Evaluate, the per-request policy work of sluiced (matching, key extraction, the
// table check), with and without forwarded headers, in one process so the cost of reading a
// trusted proxy's headers is a ratio against the direct case. Keys rotate over 1024 clients so
// most requests are admitted and the table stays in cache (the table is not what is measured).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"

namespace sluice::bench {
namespace {

constexpr std::size_t kClients = 1024;

struct Fixture {
  std::unique_ptr<net::PolicySet> set;
  std::unique_ptr<net::KeyScratch> scratch;
};

Fixture Make(std::string_view forwarded) {
  const std::string yaml = std::string("table: {capacity: 65536}\n") + std::string(forwarded) +
                           "policies:\n"
                           "  - {name: per-ip, key: ip, rate: 1000/s, burst: 100}\n"
                           "  - name: api\n    match: {path_prefix: /api/}\n"
                           "    key: [ip, path]\n    rate: 100/s\n    burst: 10\n";
  auto config = net::ParseConfig(yaml, "bench");
  if (!config.ok()) std::abort();
  auto set = net::PolicySet::Build(*config);
  if (!set.ok()) std::abort();
  Fixture f;
  f.set = *std::move(set);
  f.scratch = std::make_unique<net::KeyScratch>(f.set->scratch_bytes());
  return f;
}

sockaddr_storage V4(const char* ip) {
  sockaddr_storage s{};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, ip, &a.sin_addr);
  std::memcpy(&s, &a, sizeof a);
  return s;
}

// Request heads for kClients clients: `forwarded` puts the client in X-Forwarded-For (behind
// two proxies) and the original target in X-Original-URI; otherwise the peer is the client.
struct Requests {
  std::array<std::string, kClients> xff;
  std::array<sockaddr_storage, kClients> peers;
  std::array<net::HttpRequest, kClients> heads;
  explicit Requests(bool forwarded) {
    for (std::size_t i = 0; i < kClients; ++i) {
      const std::string client =
          "198.51." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
      xff[i] = client + ", 10.0.0.2";
      net::HttpRequest& r = heads[i];
      r.method = "GET";
      r.target = forwarded ? "/auth" : "/api/items";
      r.path = r.target;
      r.headers[r.header_count++] = {"Host", "example.com"};
      r.headers[r.header_count++] = {"User-Agent", "bench"};
      if (forwarded) {
        r.headers[r.header_count++] = {"X-Forwarded-For", xff[i]};
        r.headers[r.header_count++] = {"X-Original-URI", "/api/items?id=7"};
        peers[i] = V4("127.0.0.1");
      } else {
        peers[i] = V4(client.c_str());
      }
    }
  }
};

void Run(benchmark::State& state, Fixture& f, const Requests& requests) {
  net::EvalOutcome outcome;
  std::int64_t now = 1'000'000'000'000;
  std::size_t i = 0;
  std::uint64_t allowed = 0;
  for (auto _ : state) {
    now += 1000;
    f.set->Evaluate(requests.heads[i], reinterpret_cast<const sockaddr*>(&requests.peers[i]),
                    std::chrono::nanoseconds{now}, *f.scratch, outcome);
    allowed += outcome.allowed ? 1 : 0;
    i = (i + 1) % kClients;
  }
  benchmark::DoNotOptimize(allowed);
  state.SetItemsProcessed(state.iterations());
}

// The client is the TCP peer (no forwarded: setting).
void BM_EvaluateDirect(benchmark::State& state) {
  static Fixture f = Make("");
  static const auto requests = std::make_unique<Requests>(false);
  Run(state, f, *requests);
}
BENCHMARK(BM_EvaluateDirect);

// The same two policies behind a trusted proxy: X-Forwarded-For with hops 2, X-Original-URI.
void BM_EvaluateForwarded(benchmark::State& state) {
  static Fixture f = Make(
      "forwarded: {trusted: [10.0.0.0/8, 127.0.0.1], client_ip: x-forwarded-for, hops: 2, "
      "uri: x-original-uri}\n");
  static const auto requests = std::make_unique<Requests>(true);
  Run(state, f, *requests);
}
BENCHMARK(BM_EvaluateForwarded);

}  // namespace
}  // namespace sluice::bench
