// ngx_http_sluice_module: how zones combine. Several sluice_req in one location decided as
// one request across 2 and 4 workers (a denial anywhere refunds the earlier zones exactly:
// sluice_check_multi), one zone under two bursts keeping one state per key (checked beside
// limit_req in the same nginx), and the rest of limit_req's behaviours (nginx-tests
// limit_req.t) that apply: idle time never saved up ("negative excess"), a delayed request
// with a large, rate-limited response, and what a full zone does under each when_full.
// Rates of 1r/m make counts exact; nothing asserts a timing except lower bounds a delay
// guarantees.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "module_load.h"
#include "module_nginx.h"

namespace sluice::nginx_test {
namespace {

using namespace std::chrono_literals;

#define START_OR_SKIP(nginx)                                     \
  do {                                                           \
    if (!Find().missing.empty()) GTEST_SKIP() << Find().missing; \
    ASSERT_TRUE((nginx).ok()) << (nginx).Log();                  \
  } while (0)

int Status(std::uint16_t port, const std::string& path, const std::string& key) {
  auto r = Get(port, path, KeyHeader(key));
  return r ? r->status : -1;
}

// Admissions left for `key` at `path` (a location whose only limit is the zone to probe):
// requests until the first 429, bounded.
int Left(std::uint16_t port, const std::string& path, const std::string& key, int bound) {
  for (int n = 0; n <= bound; ++n) {
    const int status = Status(port, path, key);
    if (status != 200) return status == 429 ? n : -1000 - status;
  }
  return bound + 1;
}

// Two zones in one location, in both orders: per_key (X-Key, 10 a key) and per_group (the
// `g` argument, one key a run: 100, or 200 in the other order). /k/ and /g100/, /g200/ probe
// each zone alone afterwards (per_group's probes are the same zone under the same bursts).
std::string TwoZones() {
  return "  sluice_req_zone $http_x_key zone=per_key:1m rate=1r/m;\n"
         "  sluice_req_zone $arg_g zone=per_group:1m rate=1r/m;\n"
         "  server {\n"
         "    listen 127.0.0.1:@PORT@ reuseport;\n"
         "    add_header X-Worker $pid always;\n"
         "    location /kg/ { sluice_req zone=per_key burst=9 nodelay;\n"
         "                    sluice_req zone=per_group burst=99 nodelay; empty_gif; }\n"
         "    location /gk/ { sluice_req zone=per_group burst=199 nodelay;\n"
         "                    sluice_req zone=per_key burst=9 nodelay; empty_gif; }\n"
         "    location /k/ { sluice_req zone=per_key burst=9 nodelay; empty_gif; }\n"
         "    location /g100/ { sluice_req zone=per_group burst=99 nodelay; empty_gif; }\n"
         "    location /g200/ { sluice_req zone=per_group burst=199 nodelay; empty_gif; }\n"
         "  }\n";
}

// Conservation across zones. /kg/: 16 keys x 10 would admit 160 but the group allows 100:
// exactly 100 admitted, and per_key charged for exactly those (every request the group
// denied was refunded in per_key: each key has 10 - admitted left). /gk/: the group allows
// 200 but the keys 160: exactly 160, and the group charged for exactly 160 (40 left).
TEST(NginxModuleZones, SeveralZonesAdmitExactlyTheTighterRuleAcrossWorkers) {
  const int runs = 8;  // each run 2 x 512 requests plus ~120 probes
  for (const int workers : {2, 4}) {
    e2e::NginxOptions options;
    options.workers = workers;
    options.error_log_level = "notice";
    ModuleNginx nginx(TwoZones(), options);
    START_OR_SKIP(nginx);
    std::set<std::string> served_by;
    for (int run = 0; run < runs; ++run) {
      const std::string id = "w" + std::to_string(workers) + "r" + std::to_string(run);
      {
        const auto keys = Keys(id + "kg", 16);
        const Tally t = Hammer(nginx.port(), keys, 4, 4, nullptr, "/kg/?g=" + id + "kg");
        EXPECT_EQ(t.lost, 0);
        EXPECT_EQ(t.total_admitted(), 100) << id;
        EXPECT_EQ(t.total_admitted() + t.denied, 512);
        for (const auto& k : keys) {
          const int admitted = t.admitted.count(k) ? t.admitted.at(k) : 0;
          EXPECT_LE(admitted, 10) << k;
          EXPECT_EQ(Left(nginx.port(), "/k/", k, 10), 10 - admitted) << k;
        }
        EXPECT_EQ(Left(nginx.port(), "/g100/?g=" + id + "kg", "probe", 100), 0) << id;
        served_by.insert(t.workers.begin(), t.workers.end());
      }
      {
        const auto keys = Keys(id + "gk", 16);
        const Tally t = Hammer(nginx.port(), keys, 4, 4, nullptr, "/gk/?g=" + id + "gk");
        EXPECT_EQ(t.lost, 0);
        EXPECT_EQ(t.total_admitted(), 160) << id;
        for (const auto& k : keys) {
          EXPECT_EQ(t.admitted.count(k) ? t.admitted.at(k) : 0, 10) << k;
        }
        // Charged for the 160 admitted only: the 352 that per_key denied were refunded.
        EXPECT_EQ(Left(nginx.port(), "/g200/?g=" + id + "gk", "probe", 200), 40) << id;
      }
    }
    EXPECT_EQ(served_by.size(), static_cast<std::size_t>(workers)) << nginx.Log();
  }
}

// One zone, two bursts (limit_req keeps one state per key in a zone and applies each
// limit_req's burst when it decides). The same random walk over the two locations, for
// limit_req and sluice_req side by side, answers alike, request by request.
TEST(NginxModuleZones, OneZoneUnderTwoBurstsKeepsOneStatePerKeyLikeLimitReq) {
  ModuleNginx nginx(
      "  limit_req_zone $http_x_key zone=lr:1m rate=1r/m;\n"
      "  sluice_req_zone $http_x_key zone=sl:1m rate=1r/m;\n"
      "  server {\n"
      "    listen 127.0.0.1:@PORT@;\n"
      "    limit_req_status 429;\n"
      "    location /lr/wide { limit_req zone=lr burst=5 nodelay; empty_gif; }\n"
      "    location /lr/narrow { limit_req zone=lr burst=1 nodelay; empty_gif; }\n"
      "    location /sl/wide { sluice_req zone=sl burst=5 nodelay; empty_gif; }\n"
      "    location /sl/narrow { sluice_req zone=sl burst=1 nodelay; empty_gif; }\n"
      "  }\n");
  START_OR_SKIP(nginx);
  // By hand: narrow admits 2, after which wide still has 4 of its 6; then narrow is out.
  const std::vector<std::pair<std::string, int>> steps = {
      {"narrow", 200}, {"narrow", 200}, {"narrow", 429}, {"wide", 200},  {"wide", 200},
      {"wide", 200},   {"wide", 200},   {"wide", 429},   {"narrow", 429}};
  for (const char* side : {"lr", "sl"}) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      EXPECT_EQ(Status(nginx.port(), std::string("/") + side + "/" + steps[i].first, "hand"),
                steps[i].second)
          << side << " step " << i;
    }
  }
  std::mt19937 rng(13);
  for (int key = 0; key < 8; ++key) {
    for (int i = 0; i < 12; ++i) {
      const std::string where = rng() % 2 ? "wide" : "narrow";
      const std::string k = "walk" + std::to_string(key);
      const int lr = Status(nginx.port(), "/lr/" + where, k);
      EXPECT_EQ(Status(nginx.port(), "/sl/" + where, k), lr) << k << " step " << i << " " << where;
    }
  }
}

// limit_req.t "negative excess": time a key spends idle is not saved up beyond the burst.
// After a wait of more than (burst + 1) emission intervals, one request leaves exactly the
// burst, whatever the idle time.
TEST(NginxModuleZones, IdleTimeIsNotSavedUpBeyondTheBurst) {
  ModuleNginx nginx(
      "  sluice_req_zone $http_x_key zone=one:1m rate=10r/s;\n"
      "  server {\n"
      "    listen 127.0.0.1:@PORT@;\n"
      "    add_header X-Left $sluice_req_remaining always;\n"
      "    location / { sluice_req zone=one burst=3 nodelay; empty_gif; }\n"
      "  }\n");
  START_OR_SKIP(nginx);
  for (int i = 0; i < 3; ++i) Status(nginx.port(), "/", "idle");
  std::this_thread::sleep_for(600ms);  // 6 T: a limit_req excess of -2 if it were not clamped
  auto r = Get(nginx.port(), "/", KeyHeader("idle"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Capacity 4 (burst 3 + 1) less this request: 3, not more.
  EXPECT_EQ(r->Header("x-left"), "3");
}

// limit_req.t's delayed large response: a request parked by the delay (write->delayed and a
// timer) and then served a body larger than the socket buffers under limit_rate (which uses
// write->delayed itself) arrives whole.
TEST(NginxModuleZones, DelayedLargeResponseUnderLimitRateArrivesWhole) {
  ModuleNginx nginx(
      "  sluice_req_zone $http_x_key zone=one:1m rate=10r/s;\n"
      "  server {\n"
      "    listen 127.0.0.1:@PORT@;\n"
      "    add_header X-Status $sluice_req_status always;\n"
      "    location /big { sluice_req zone=one burst=2; limit_rate 8m; root @DIR@; }\n"
      "  }\n");
  START_OR_SKIP(nginx);
  std::string body(1 << 20, '\0');
  std::mt19937 rng(7);
  for (char& c : body) c = static_cast<char>('a' + rng() % 26);
  e2e::WriteFile(nginx.dir() / "big", body);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<e2e::Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<e2e::Client>(nginx.port(), 30s));
    ASSERT_TRUE(clients.back()->Send(e2e::Request("/big", KeyHeader("large"))));
  }
  int delayed = 0;
  for (auto& c : clients) {
    auto r = c->Read();
    ASSERT_TRUE(r) << nginx.Log();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), body.size());
    EXPECT_TRUE(r->body == body) << "a delayed body differs";
    delayed += r->Header("x-status") == "DELAYED";
  }
  EXPECT_EQ(delayed, 2);
  // The second excess request waited 2 emission intervals at least.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms);
}

// A full zone. limit_req, out of nodes, drops its oldest ones and, failing that, rejects
// (503 or limit_req_status); sluice_req does what when_full says (DESIGN.md), counted in the
// stats: evict (the default) admits every new key, deny answers 429 with Retry-After,
// allow admits without keeping state. 4k holds 256 keys in 64 buckets of 4: 3000 keys at
// 1r/m overflow it whatever the seed.
TEST(NginxModuleZones, AFullZoneDoesWhatWhenFullSays) {
  ModuleNginx nginx(
      "  sluice_req_zone $http_x_key zone=evict:4k rate=1r/m;\n"
      "  sluice_req_zone $http_x_key zone=deny:4k rate=1r/m when_full=deny;\n"
      "  sluice_req_zone $http_x_key zone=allow:4k rate=1r/m when_full=allow;\n"
      "  server {\n"
      "    listen 127.0.0.1:@PORT@;\n"
      "    location /evict { sluice_req zone=evict; empty_gif; }\n"
      "    location /deny { sluice_req zone=deny; empty_gif; }\n"
      "    location /allow { sluice_req zone=allow; empty_gif; }\n"
      "    location = /stats { sluice_req_stats; }\n"
      "  }\n");
  START_OR_SKIP(nginx);
  for (const std::string& zone : std::vector<std::string>{"evict", "deny", "allow"}) {
    e2e::Client client(nginx.port(), 10s);
    int admitted = 0;
    int denied = 0;
    int denied_with_retry_after = 0;
    for (int batch = 0; batch < 3000 / 50; ++batch) {
      std::string requests;
      for (int i = 0; i < 50; ++i) {
        requests += e2e::Request("/" + zone, KeyHeader(zone + std::to_string(batch * 50 + i)));
      }
      ASSERT_TRUE(client.Send(requests));
      for (int i = 0; i < 50; ++i) {
        auto r = client.Read();
        ASSERT_TRUE(r);
        if (r->status == 200) ++admitted;
        if (r->status == 429) {
          ++denied;
          denied_with_retry_after += !r->Header("retry-after").empty();
        }
      }
    }
    auto stats = Get(nginx.port(), "/stats");
    ASSERT_TRUE(stats);
    const auto metric = [&](const std::string& name) {
      return e2e::MetricSum(stats->body, name + "{zone=\"" + zone + "\"}");
    };
    if (zone == "evict") {
      EXPECT_EQ(admitted, 3000);
      EXPECT_GT(metric("sluice_nginx_zone_evictions_total"), 0u) << stats->body;
    } else if (zone == "deny") {
      EXPECT_GT(denied, 0);
      EXPECT_EQ(denied_with_retry_after, denied);
      EXPECT_EQ(metric("sluice_nginx_zone_full_denied_total"), static_cast<std::uint64_t>(denied));
      EXPECT_EQ(metric("sluice_nginx_zone_evictions_total"), 0u);
    } else {
      EXPECT_EQ(admitted, 3000);
      EXPECT_GT(metric("sluice_nginx_zone_full_allowed_total"), 0u) << stats->body;
      EXPECT_EQ(metric("sluice_nginx_zone_evictions_total"), 0u);
    }
  }
}

}  // namespace
}  // namespace sluice::nginx_test
