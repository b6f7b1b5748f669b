// The adversarial suite's frame around every scenario: a server with a key that is over its
// limit, a baseline of its memory and descriptors, and after the scenario the checks that the
// server is alive and serving a new client, that the key is still limited, and that RSS and
// open descriptors are back within the scenario's stated bound of the baseline.
//
// Two sizes: the short form (the default, run by `make test`) and the full form
// (SLUICE_ADVERSARIAL=full, run by `make adversarial`), which scales counts up.
#ifndef SLUICE_TESTS_ADVERSARIAL_ADVERSARIAL_H_
#define SLUICE_TESTS_ADVERSARIAL_ADVERSARIAL_H_

#include <chrono>
#include <string>
#include <vector>

#include "harness.h"

namespace sluice::e2e {

// SLUICE_ADVERSARIAL=full in the environment.
bool FullForm();
// `short_count` in the short form, `full_count` in the full form.
int Scaled(int short_count, int full_count);

// The key every scenario limits before it starts: policy "per-key" (header x-key, 1/h,
// burst 2), so two requests admit it and the third is denied for an hour. Requests without
// x-key match no policy and are always answered 200.
inline constexpr const char* kVictimHeader = "x-key: victim\r\n";

// A config: one shard, a 65536-key table (evict), the per-key policy, and `limits` (a YAML
// flow mapping such as "{header_timeout_ms: 1000}", or empty).
std::string ScenarioConfig(const std::string& limits = "", int threads = 1);

// Whether RSS bounds are asserted: not in sanitizer builds, where sluiced itself runs under
// ASan or TSan and RSS measures the runtime's shadow memory, redzones and quarantine (ASan
// keeps up to 256 MiB of freed memory) rather than our buffers. Descriptors are checked
// everywhere.
bool CheckRss();

class Scenario {
 public:
  // Limits the victim (2 admitted, the third denied: asserted by Begin), warms the server up
  // with `warm_connections` concurrent connections, and takes the baseline. `name` labels the
  // numbers printed at the end.
  Scenario(Sluiced& server, std::string name, int warm_connections = 32);
  // Call first in the test body; ASSERT_* inside, so check HasFatalFailure() after it.
  void Begin();
  // After the scenario: polls until open descriptors are back within `fd_slack` of the
  // baseline and the server has no connection open beyond `connections_left`; then asserts
  // a new client is served 200, the victim is still denied, RSS grew by less than
  // `rss_bound_kib`, and the server runs. Prints the measured deltas.
  void End(long rss_bound_kib, long fd_slack = 1, std::uint64_t connections_left = 0);

  long rss_before_kib() const { return rss_before_; }
  long fds_before() const { return fds_before_; }

 private:
  Sluiced& server_;
  std::string name_;
  int warm_connections_;
  long rss_before_ = 0;
  long fds_before_ = 0;
  std::chrono::steady_clock::time_point start_;
};

#define START_OR_SKIP(server)                                                   \
  do {                                                                          \
    if ((server).io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring"; \
    ASSERT_TRUE((server).ok()) << (server).output();                            \
  } while (0)

// The statuses of the responses in `stream` (Content-Length framing, either spelling), in
// order. A response that does not parse ends the list with -1.
std::vector<int> Statuses(const std::string& stream);

// Raises this process's RLIMIT_NOFILE soft limit to at least `n` (up to the hard limit);
// returns the soft limit in force afterwards.
long RaiseFdLimit(long n);

}  // namespace sluice::e2e

#endif  // SLUICE_TESTS_ADVERSARIAL_ADVERSARIAL_H_
