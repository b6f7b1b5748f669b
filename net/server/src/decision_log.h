// The decision log: JSON lines of denials (and a sample of admissions), written by one
// background thread. Shards hand it fixed-size records through per-shard single-producer,
// single-consumer lock-free queues (boost::lockfree::spsc_queue with compile-time capacity:
// no allocation on push), so a shard never allocates, locks or writes a file for it. A record
// that does not fit a full queue is dropped and counted.
#ifndef SLUICE_NET_SRC_DECISION_LOG_H_
#define SLUICE_NET_SRC_DECISION_LOG_H_

#include <sys/socket.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::net {

struct LogRecord {
  std::int64_t unix_ns = 0;
  std::int64_t retry_after_ns = 0;  // -1: never
  std::uint16_t status = 0;
  std::uint8_t family = 0;  // AF_INET / AF_INET6
  std::uint8_t policy_len = 0;
  std::uint8_t key_len = 0;
  std::uint8_t address[16] = {};  // the TCP peer
  // The client a trusted proxy named (forwarded: client_ip): 4 or 16 bytes, 0 when none.
  std::uint8_t forwarded_size = 0;
  std::uint8_t forwarded[16] = {};
  char policy[64] = {};  // policy names are at most 64 bytes (config.cc): never cut
  char key[96] = {};     // the key as FormatKey() renders it, cut to this many bytes
};

inline constexpr std::size_t kLogQueueRecords = 4096;
using LogQueue =
    boost::lockfree::spsc_queue<LogRecord, boost::lockfree::capacity<kLogQueueRecords>>;

class DecisionLog {
 public:
  // Opens `path` for appending. One queue per shard.
  static absl::StatusOr<std::unique_ptr<DecisionLog>> Open(const std::string& path,
                                                           std::size_t shards);
  ~DecisionLog();

  // Shard `shard` only (single producer). False when the queue is full: the caller counts it.
  bool Push(std::size_t shard, const LogRecord& record) noexcept {
    return queues_[shard]->push(record);
  }
  // Reopens the file (after rotation); called on reload. Thread-safe with the writer.
  void RequestReopen() noexcept { reopen_.store(true, std::memory_order_relaxed); }
  // Drains what is queued, then stops the writer.
  void Stop();

  // Formats one record as a JSON line (without the newline). For tests.
  static std::string Format(const LogRecord& record);

 private:
  DecisionLog(std::string path, std::FILE* file, std::size_t shards);
  void Run();
  std::size_t Drain();

  std::string path_;
  std::FILE* file_;
  std::vector<std::unique_ptr<LogQueue>> queues_;
  // Relaxed flags: the writer polls them every few ms; no data is published through them.
  std::atomic<bool> stop_{false};
  std::atomic<bool> reopen_{false};
  std::thread writer_;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_DECISION_LOG_H_
