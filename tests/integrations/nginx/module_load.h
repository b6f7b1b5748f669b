// Load for the module's multi-worker tests: pipelined batches over many connections, with
// what each key was answered tallied (tests/integrations/nginx).
#ifndef SLUICE_TESTS_INTEGRATIONS_NGINX_MODULE_LOAD_H_
#define SLUICE_TESTS_INTEGRATIONS_NGINX_MODULE_LOAD_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sluice::nginx_test {

// What a load run saw.
struct Tally {
  std::map<std::string, int> admitted;  // per key
  int denied = 0;
  int lost = 0;  // sent but never answered (a connection closed under it)
  std::set<std::string> workers;
  void Add(const Tally& t) {
    for (const auto& [k, n] : t.admitted) admitted[k] += n;
    denied += t.denied;
    lost += t.lost;
    workers.insert(t.workers.begin(), t.workers.end());
  }
  int total_admitted() const {
    int n = 0;
    for (const auto& [k, c] : admitted) n += c;
    return n;
  }
};

// `threads` connections, each sending `batches` pipelined batches of 32 requests over `keys`
// (round robin from its own offset) to `path`, or until `stop` is set. A connection that
// breaks is counted and replaced. Answers other than 200 and 429 fail the test.
Tally Hammer(std::uint16_t port, const std::vector<std::string>& keys, int threads, int batches,
             const std::atomic<bool>* stop = nullptr, const std::string& path = "/");

// prefix0, prefix1, ... prefix(n-1).
std::vector<std::string> Keys(const std::string& prefix, int n);

}  // namespace sluice::nginx_test

#endif  // SLUICE_TESTS_INTEGRATIONS_NGINX_MODULE_LOAD_H_
