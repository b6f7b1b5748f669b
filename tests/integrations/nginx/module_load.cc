#include "module_load.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "harness.h"
#include "module_nginx.h"

namespace sluice::nginx_test {

using namespace std::chrono_literals;

Tally Hammer(std::uint16_t port, const std::vector<std::string>& keys, int threads, int batches,
             const std::atomic<bool>* stop, const std::string& path) {
  constexpr int kBatch = 32;
  std::vector<Tally> tallies(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Tally& tally = tallies[static_cast<std::size_t>(t)];
      std::size_t next = static_cast<std::size_t>(t) * 7;
      auto client = std::make_unique<e2e::Client>(port, 10s);
      for (int b = 0; b < batches; ++b) {
        if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
        if (!client->connected()) client = std::make_unique<e2e::Client>(port, 10s);
        std::string batch;
        std::vector<std::string> sent;
        for (int i = 0; i < kBatch; ++i) {
          const std::string& key = keys[next++ % keys.size()];
          sent.push_back(key);
          batch += e2e::Request(path, KeyHeader(key));
        }
        if (!client->Send(batch)) {
          tally.lost += kBatch;
          client = std::make_unique<e2e::Client>(port, 10s);
          continue;
        }
        for (int i = 0; i < kBatch; ++i) {
          auto r = client->Read();
          if (!r) {
            tally.lost += kBatch - i;
            client = std::make_unique<e2e::Client>(port, 10s);
            break;
          }
          tally.workers.insert(r->Header("x-worker"));
          if (r->status == 200) {
            ++tally.admitted[sent[static_cast<std::size_t>(i)]];
          } else if (r->status == 429) {
            ++tally.denied;
          } else {
            ADD_FAILURE() << "status " << r->status;
          }
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  Tally all;
  for (const auto& t : tallies) all.Add(t);
  return all;
}

std::vector<std::string> Keys(const std::string& prefix, int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

}  // namespace sluice::nginx_test
