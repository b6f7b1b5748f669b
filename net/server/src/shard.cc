// The shard's thread: started with its ring (Loop) inside, stopped, joined; the control
// thread's side of its inbox and wake-up eventfd.
#include "shard.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ring_loop.h"

namespace sluice::net {

Shard::Shard(Options options) : options_(options) {}

Shard::~Shard() {
  RequestStop();
  Join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::Status Shard::Start() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  std::atomic<int> state{0};  // 0 starting, 1 up, 2 failed
  absl::Status init_status;
  thread_ = std::thread([this, &state, &init_status] {
    char name[16];
    std::snprintf(name, sizeof name, "sluiced-s%zu", options_.index % 1000);
    pthread_setname_np(pthread_self(), name);  // for top -H, perf, and the allocation test
    if (options_.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(options_.cpu, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort
    }
    Loop loop(*this);
    absl::Status s = loop.Init();
    if (!s.ok()) {
      init_status = s;
      // Release: publishes init_status to the acquiring Start().
      state.store(2, std::memory_order_release);
      exited_.store(true, std::memory_order_release);
      return;
    }
    state.store(1, std::memory_order_release);
    loop.Run();
    exited_.store(true, std::memory_order_release);
  });
  int s;
  // Acquire pairs with the release stores above. Start-up only, so a short spin is fine.
  while ((s = state.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
  if (s == 2) {
    thread_.join();
    return init_status;
  }
  return absl::OkStatus();
}

bool Shard::Deliver(const Runtime* runtime) noexcept {
  if (!inbox_.push(runtime)) return false;
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  return true;
}

void Shard::RequestStop() noexcept {
  // Relaxed: the loop polls the flag after every wake-up; the eventfd write wakes it.
  stop_.store(true, std::memory_order_relaxed);
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
}

void Shard::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::net
