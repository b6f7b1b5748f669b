// One shard: a thread pinned to a core, with its own io_uring, its own SO_REUSEPORT listener
// and its own connections. Shards share only the state table (through the engine's atomics),
// the current Runtime (delivered through an SPSC inbox) and the decision log queues.
#ifndef SLUICE_NET_SRC_SHARD_H_
#define SLUICE_NET_SRC_SHARD_H_

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "decision_log.h"
#include "metrics.h"
#include "runtime.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"
#include "sluice/net/policy/response.h"

namespace sluice::net {

// What a shard found about the kernel at start-up (for the log and /metrics).
struct RingFeatures {
  bool single_issuer = false;
  bool defer_taskrun = false;
  bool coop_taskrun = false;
};

class Shard {
 public:
  struct Options {
    std::size_t index = 0;
    int cpu = -1;        // pin to this CPU (-1: do not pin)
    int listen_fd = -1;  // this shard's SO_REUSEPORT listener (the shard closes it)
    const Runtime* runtime = nullptr;
    DecisionLog* log = nullptr;
  };

  explicit Shard(Options options);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Starts the thread. The ring is created inside it (SINGLE_ISSUER wants the submitter to be
  // the creator). Returns once the ring is up, or with the reason it could not be.
  absl::Status Start();
  // A new Runtime to switch to at the next loop pass (control thread only: single producer).
  bool Deliver(const Runtime* runtime) noexcept;
  // Stop accepting, answer what was received, close idle connections, exit the loop.
  void RequestStop() noexcept;
  void Join();

  // The generation this shard runs (acquire pairs with the shard's release store after it
  // switched): a Runtime older than every shard's generation can be freed.
  [[nodiscard]] std::uint64_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }
  [[nodiscard]] const ShardMetrics& metrics() const noexcept { return metrics_; }
  [[nodiscard]] RingFeatures features() const noexcept { return features_; }
  [[nodiscard]] bool stopped() const noexcept { return exited_.load(std::memory_order_acquire); }

 private:
  struct Connection;
  class Loop;

  Options options_;
  ShardMetrics metrics_;
  RingFeatures features_;
  int wake_fd_ = -1;  // eventfd: the control thread writes it to wake the loop
  boost::lockfree::spsc_queue<const Runtime*, boost::lockfree::capacity<16>> inbox_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> exited_{false};
  std::thread thread_;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_SHARD_H_
