#include "shard.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "shard_loop.h"

// Valgrind's client requests: a few no-op instructions natively, understood under valgrind.
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SLUICE_HAVE_VALGRIND 1
#endif

namespace sluice::net {
namespace {

using std::chrono::nanoseconds;

// Under valgrind, the longest a pass may wait in io_uring_enter (see Run()).
constexpr std::int64_t kValgrindWaitNs = 10'000'000;

bool RunningOnValgrind() noexcept {
#ifdef SLUICE_HAVE_VALGRIND
  return RUNNING_ON_VALGRIND != 0;
#else
  return false;
#endif
}

// The kernel wrote `len` bytes at `p` (a provided receive buffer): memcheck cannot see writes
// the kernel makes from io_uring's async context, so it would call the received bytes
// uninitialised. Tell it they are defined. Nothing natively.
void KernelWrote(const char* p, std::size_t len) noexcept {
#ifdef SLUICE_HAVE_VALGRIND
  (void)VALGRIND_MAKE_MEM_DEFINED(p, len);
#else
  (void)p;
  (void)len;
#endif
}

std::int64_t MonotonicNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no syscall
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Shard::Loop::~Loop() {
  for (std::uint32_t i = 0; i < high_water_; ++i) {
    if (conns_[i].fd >= 0) ::close(conns_[i].fd);
  }
  if (ring_ready_) io_uring_queue_exit(&ring_);
  std::free(buf_ring_);
  std::free(buffers_);
}

absl::Status Shard::Loop::Init() {
  // Newest features first; each refusal (-EINVAL on older kernels) falls back one step.
  struct Attempt {
    unsigned flags;
    RingFeatures features;
  };
  const Attempt attempts[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, {true, true, false}},
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN, {true, false, true}},
      {IORING_SETUP_COOP_TASKRUN, {false, false, true}},
      {0, {false, false, false}},
  };
  int ret = -EINVAL;
  for (const Attempt& a : attempts) {
    io_uring_params params{};
    params.flags = a.flags | IORING_SETUP_CQSIZE;
    params.cq_entries = kCqEntries;
    ret = io_uring_queue_init_params(kSqEntries, &ring_, &params);
    if (ret == 0) {
      shard_.features_ = a.features;
      break;
    }
    if (ret != -EINVAL) break;
  }
  if (ret != 0) {
    return absl::UnavailableError(absl::StrCat("io_uring_queue_init: ", std::strerror(-ret)));
  }
  ring_ready_ = true;

  // The provided-buffer ring that multishot recv draws from (liburing 2.3: register by hand).
  const std::size_t ring_bytes = kRingBuffers * sizeof(io_uring_buf);
  if (posix_memalign(reinterpret_cast<void**>(&buf_ring_), 4096, ring_bytes) != 0 ||
      posix_memalign(reinterpret_cast<void**>(&buffers_), 4096,
                     std::size_t{kRingBuffers} * kRingBufferBytes) != 0) {
    return absl::ResourceExhaustedError("cannot allocate the receive buffer ring");
  }
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
  reg.ring_entries = kRingBuffers;
  reg.bgid = kBufferGroup;
  ret = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (ret != 0) {
    return absl::UnavailableError(
        absl::StrCat("io_uring_register_buf_ring: ", std::strerror(-ret)));
  }
  io_uring_buf_ring_init(buf_ring_);
  for (unsigned i = 0; i < kRingBuffers; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t{i} * kRingBufferBytes, kRingBufferBytes,
                          static_cast<unsigned short>(i), io_uring_buf_ring_mask(kRingBuffers),
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buf_ring_, kRingBuffers);

  const std::size_t max_conns = shard_.options_.runtime->config.limits.max_connections_per_shard;
  conns_.resize(max_conns);
  for (std::uint32_t i = 0; i < max_conns; ++i) conns_[i].next_free = i + 1;
  dirty_.reserve(max_conns);
  rearm_.reserve(max_conns);
  SwitchRuntime();
  return absl::OkStatus();
}

void Shard::Loop::SwitchRuntime() {
  const Runtime* next = nullptr;
  if (runtime_ == nullptr) next = shard_.options_.runtime;
  const Runtime* delivered = nullptr;
  while (shard_.inbox_.pop(delivered)) next = delivered;  // the newest wins
  if (next == nullptr) return;
  runtime_ = next;
  limits_ = &runtime_->config.limits.http;
  max_response_ = runtime_->responses->max_response_bytes();
  if (scratch_.buffer.size() < runtime_->policies->scratch_bytes()) {
    scratch_.buffer.resize(runtime_->policies->scratch_bytes());  // only at a reload
  }
  // Buffer sizes are fixed at start (limits that size them need a restart).
  if (!in_pool_) {
    // Input: a partial head and a receive buffer in hand; deep pipelines move to a big buffer.
    const std::size_t in_bytes = limits_->max_header_bytes + 2 * std::size_t{kRingBufferBytes};
    const std::size_t out_bytes =
        std::max(runtime_->config.limits.max_output_bytes, 4 * max_response_);
    const std::size_t conns = conns_.size();
    const std::size_t third = kBufferBudgetBytes / 3;
    in_pool_ = std::make_unique<BufferPool>(in_bytes, std::min(conns, third / in_bytes));
    big_in_pool_ = std::make_unique<BufferPool>(std::max(kMaxPendingInput, 2 * in_bytes),
                                                std::min(conns, third / kMaxPendingInput));
    out_pool_ = std::make_unique<BufferPool>(out_bytes, std::min(conns, third / out_bytes));
  }
  // Release: the control thread's acquire in generation() sees that we no longer use older
  // runtimes (every read of them happened before this store).
  shard_.generation_.store(runtime_->generation, std::memory_order_release);
}

io_uring_sqe* Shard::Loop::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // SQ full (a very busy pass): hand what we have to the kernel and take a fresh entry.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe == nullptr) std::abort();  // impossible after a submit: the SQ was just emptied
  return sqe;
}

void Shard::Loop::ArmAccept() {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_multishot_accept(sqe, shard_.options_.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, UserData(Op::kAccept));
  accept_armed_ = true;
}

void Shard::Loop::ArmWake() {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_read(sqe, shard_.wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, UserData(Op::kWake));
}

void Shard::Loop::ArmRecv(Connection& c, std::uint32_t slot) {
  io_uring_sqe* sqe = Sqe();
  if (c.throttled) {
    io_uring_prep_recv(sqe, c.fd, nullptr, 0, 0);  // one buffer, then decide again
  } else {
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, UserData(Op::kRecv, slot, c.generation));
  c.recv_armed = true;
}

void Shard::Loop::Run() {
  // valgrind (3.19) runs one thread at a time under a global lock and does not know that
  // io_uring_enter can block: it holds the lock across the wait, so a shard waiting for
  // completions would starve every other thread of the process (the main thread never gets to
  // print its ports). Under valgrind only, each wait is short and the shard yields after it.
  const bool under_valgrind = RunningOnValgrind();
  ArmAccept();
  ArmWake();
  next_sweep_ = MonotonicNs() + kSweepNs;
  for (;;) {
    // The one syscall of a pass: submit what the last pass queued and wait for completions
    // (at most until the next sweep is due).
    std::int64_t wake_at = next_sweep_;
    if (!accept_armed_ && listener_open_ && !stopping_) {
      wake_at = std::min(wake_at, accept_backoff_until_);
    }
    const std::int64_t wait_ns = std::clamp<std::int64_t>(
        wake_at - now_, 1'000'000, under_valgrind ? kValgrindWaitNs : kSweepNs);
    __kernel_timespec ts{};
    ts.tv_sec = wait_ns / 1'000'000'000;
    ts.tv_nsec = wait_ns % 1'000'000'000;
    io_uring_cqe* first = nullptr;
    const int ret = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      std::fprintf(stderr, "sluiced: shard %zu: io_uring wait failed: %s\n", shard_.options_.index,
                   std::strerror(-ret));
      std::abort();
    }
    if (under_valgrind) sched_yield();  // valgrind hands its lock to the other threads here

    // The clock, read once per pass: every decision of this pass uses it.
    now_ = MonotonicNs();
    const auto wall = std::chrono::system_clock::now();
    unix_now_ = std::chrono::duration_cast<nanoseconds>(wall.time_since_epoch()).count();
    date_.Refresh(wall);
    shard_.metrics_.loop_passes.Add();

    if (!shard_.inbox_.empty()) SwitchRuntime();

    unsigned head;
    unsigned count = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      Handle(*cqe);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    shard_.metrics_.completions.Add(count);
    if (pending_buffers_ > 0) {
      // Hand the buffers consumed this pass back to the kernel before re-arming receives.
      io_uring_buf_ring_advance(buf_ring_, static_cast<int>(pending_buffers_));
      pending_buffers_ = 0;
    }

    if (shard_.stop_.load(std::memory_order_relaxed) && !stopping_) BeginStop();
    if (now_ >= next_sweep_) {
      Sweep();
      next_sweep_ = now_ + kSweepNs;
    }
    for (const std::uint32_t slot : rearm_) {
      Connection& c = conns_[slot];
      c.rearm_queued = false;
      if (c.fd >= 0 && !c.recv_armed && !c.recv_stopped && !c.killing && !c.peer_eof) {
        ArmRecv(c, slot);
      }
    }
    rearm_.clear();
    if (!accept_armed_ && listener_open_ && !stopping_ && now_ >= accept_backoff_until_) {
      ArmAccept();
    }
    FlushSends();
    if (stopping_ && active_ == 0) {
      io_uring_submit(&ring_);  // the last closes and cancels queued this pass
      break;
    }
  }
}

Shard::Connection* Shard::Loop::Lookup(std::uint64_t ud) {
  const std::uint32_t slot = SlotOf(ud);
  if (slot >= conns_.size()) return nullptr;
  Connection& c = conns_[slot];
  if (c.fd < 0 || c.generation != GenOf(ud)) return nullptr;
  return &c;
}

void Shard::Loop::Handle(const io_uring_cqe& cqe) {
  const std::uint64_t ud = cqe.user_data;
  switch (OpOf(ud)) {
    case Op::kAccept:
      if (cqe.res >= 0) {
        OnAccept(cqe.res);
      } else if (cqe.res != -ECANCELED) {
        // EMFILE, ENFILE, ENOMEM...: expected under fd exhaustion. Back off, then re-arm.
        shard_.metrics_.accept_errors.Add();
        accept_backoff_until_ = now_ + kAcceptBackoffNs;
      }
      if (!(cqe.flags & IORING_CQE_F_MORE)) accept_armed_ = false;
      return;
    case Op::kRecv: {
      Connection* c = Lookup(ud);
      if (c != nullptr) {
        OnRecv(cqe, *c, SlotOf(ud));
      } else if (cqe.flags & IORING_CQE_F_BUFFER) {
        // A stale completion: its buffer still has to go back.
        RecycleBuffer(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
      }
      return;
    }
    case Op::kSend: {
      Connection* c = Lookup(ud);
      if (c != nullptr) OnSend(cqe.res, *c, SlotOf(ud));
      return;
    }
    case Op::kClose: {
      Connection* c = Lookup(ud);
      if (c != nullptr) Release(SlotOf(ud));
      return;
    }
    case Op::kWake:
      if (!stopping_ || active_ > 0) ArmWake();
      return;
    case Op::kShutdown: {
      Connection* c = Lookup(ud);
      if (c != nullptr) {
        c->shutdown_in_flight = false;
        MaybeFinishClose(*c, SlotOf(ud));
      }
      return;
    }
    case Op::kCloseRefused:
    case Op::kCancel:
      return;  // results of best-effort operations; the connection's own ops report the rest
  }
  std::fprintf(stderr, "sluiced: unknown completion %llx\n", static_cast<unsigned long long>(ud));
  std::abort();
}

void Shard::Loop::OnAccept(int fd) {
  ShardMetrics& m = shard_.metrics_;
  if (stopping_ || free_head_ >= conns_.size()) {
    // Over the per-shard limit (or draining): refuse this one, keep serving everyone else.
    m.connections_refused.Add();
    if (stopping_) {
      ::close(fd);  // the loop may end this pass: do not leave it to a queued SQE
      return;
    }
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCloseRefused));
    return;
  }
  const std::uint32_t slot = free_head_;
  Connection& c = conns_[slot];
  free_head_ = c.next_free;
  high_water_ = std::max(high_water_, slot + 1);
  // rearm_queued and dirty stay as they are: the slot may still sit on this pass's lists.
  c.fd = fd;
  c.recv_armed = c.recv_stopped = c.send_in_flight = c.close_after_send = c.peer_eof = false;
  c.lingering = c.killing = c.close_submitted = c.paused = c.throttled = false;
  c.shutdown_in_flight = false;
  c.in_len = c.in_cap = c.out_start = c.out_len = 0;
  c.framer = BodyFramer();
  c.last_activity = c.last_send_progress = now_;
  c.head_started = now_;  // the first head is awaited from now: header_timeout applies
  // The peer address keys per-ip policies. A syscall per connection (multishot accept cannot
  // return addresses), never per request.
  socklen_t len = sizeof c.peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&c.peer), &len) != 0) {
    c.peer.ss_family = AF_UNSPEC;
  }
  ++active_;
  m.connections_accepted.Add();
  m.connections_open.Set(active_);
  ArmRecv(c, slot);
}

void Shard::Loop::RecycleBuffer(std::uint16_t bid) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t{bid} * kRingBufferBytes, kRingBufferBytes,
                        bid, io_uring_buf_ring_mask(kRingBuffers),
                        static_cast<int>(pending_buffers_));
  ++pending_buffers_;
}

void Shard::Loop::OnRecv(const io_uring_cqe& cqe, Connection& c, std::uint32_t slot) {
  if (!(cqe.flags & IORING_CQE_F_MORE)) c.recv_armed = false;
  if (cqe.res > 0) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    const char* data = buffers_ + std::size_t{bid} * kRingBufferBytes;
    KernelWrote(data, static_cast<std::size_t>(cqe.res));
    OnData(c, slot, data, static_cast<std::size_t>(cqe.res));
    RecycleBuffer(bid);
  } else {
    if (cqe.flags & IORING_CQE_F_BUFFER) {
      RecycleBuffer(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    }
    if (cqe.res == 0) {
      // The client half-closed: it may still read. Answer what it sent, then close.
      c.peer_eof = true;
      CloseIfDoneAfterEof(c, slot);
    } else if (cqe.res == -ENOBUFS) {
      // The buffer ring ran dry: buffers go back at the end of this pass, then we re-arm.
      shard_.metrics_.recv_enobufs.Add();
    } else if (cqe.res != -ECANCELED) {
      Kill(c, slot);  // reset or another error: this connection is over
    }
  }
  // Whatever ended a receive (a cancel whose pause is already over included), listen again if
  // the connection still wants to.
  if (!c.recv_armed) QueueRearm(c, slot);
  MaybeFinishClose(c, slot);
}

void Shard::Loop::QueueRearm(Connection& c, std::uint32_t slot) {
  if (c.fd < 0 || c.recv_armed || c.recv_stopped || c.killing || c.peer_eof || c.rearm_queued) {
    return;
  }
  c.rearm_queued = true;
  rearm_.push_back(slot);  // at most one entry per slot: never past reserve()
}

void Shard::Loop::MarkDirty(Connection& c, std::uint32_t slot) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(slot);
}

void Shard::Loop::FlushSends() {
  for (const std::uint32_t slot : dirty_) {
    Connection& c = conns_[slot];
    c.dirty = false;
    if (c.fd < 0 || c.killing || c.send_in_flight) continue;
    if (c.out_len > c.out_start) {
      // Everything answered this pass goes out in one send: pipelined requests of one receive
      // share a single send.
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_send(sqe, c.fd, c.out + c.out_start, c.out_len - c.out_start, MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, UserData(Op::kSend, slot, c.generation));
      c.send_in_flight = true;
    } else if (c.close_after_send && !c.lingering) {
      BeginLinger(c, slot);
    } else if (c.peer_eof) {
      CloseIfDoneAfterEof(c, slot);
    }
  }
  dirty_.clear();
}

void Shard::Loop::OnSend(int res, Connection& c, std::uint32_t slot) {
  c.send_in_flight = false;
  if (res < 0 || c.killing) {
    Kill(c, slot);  // EPIPE, ECONNRESET, ECANCELED: the client is gone or we are closing
    MaybeFinishClose(c, slot);
    return;
  }
  c.out_start += static_cast<std::uint32_t>(res);
  c.last_send_progress = now_;
  if (c.out_start == c.out_len) {
    c.out_start = c.out_len = 0;
  } else if (c.out_start > out_pool_->bytes() / 2) {
    std::memmove(c.out, c.out + c.out_start, c.out_len - c.out_start);
    c.out_len -= c.out_start;
    c.out_start = 0;
  }
  if (c.paused && out_pool_->bytes() - c.out_len >= max_response_) Resume(c, slot);
  DropOutputIfEmpty(c);
  if (c.throttled && c.out == nullptr && c.in_len == 0) c.throttled = false;  // caught up
  // A short send, or answers appended while it was in flight: send the rest (or close).
  MarkDirty(c, slot);
}

void Shard::Loop::PauseRecv(Connection& c, std::uint32_t slot) {
  shard_.metrics_.recv_paused.Add();
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_cancel64(sqe, UserData(Op::kRecv, slot, c.generation), 0);
  io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
}

void Shard::Loop::BeginLinger(Connection& c, std::uint32_t slot) {
  // Half-close and read until the client closes too: closing with unread input would reset
  // the connection and could destroy our last answer before the client read it.
  c.lingering = true;
  c.linger_started = now_;
  if (!c.recv_armed) {
    Kill(c, slot);
    return;
  }
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_shutdown(sqe, c.fd, SHUT_WR);
  io_uring_sqe_set_data64(sqe, UserData(Op::kShutdown, slot, c.generation));
  c.shutdown_in_flight = true;
}

void Shard::Loop::Kill(Connection& c, std::uint32_t slot) {
  if (c.killing) return;
  c.killing = true;
  if (c.recv_armed) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, UserData(Op::kRecv, slot, c.generation), 0);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
  }
  if (c.send_in_flight) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, UserData(Op::kSend, slot, c.generation), 0);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
  }
  MaybeFinishClose(c, slot);
}

void Shard::Loop::MaybeFinishClose(Connection& c, std::uint32_t slot) {
  if (!c.killing || c.close_submitted || c.recv_armed || c.send_in_flight || c.shutdown_in_flight) {
    return;
  }
  // No operation of ours references the socket any more: close it through the ring.
  c.close_submitted = true;
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_close(sqe, c.fd);
  io_uring_sqe_set_data64(sqe, UserData(Op::kClose, slot, c.generation));
}

void Shard::Loop::Release(std::uint32_t slot) {
  Connection& c = conns_[slot];
  ReleaseInput(c);
  if (c.out != nullptr) out_pool_->Release(c.out);
  c.out = nullptr;
  c.fd = -1;
  ++c.generation;
  c.next_free = free_head_;
  free_head_ = slot;
  --active_;
  shard_.metrics_.connections_open.Set(active_);
}

void Shard::Loop::Sweep() {
  const ServerLimits& limits = runtime_->config.limits;
  const std::int64_t idle_ns = nanoseconds(limits.idle_timeout).count();
  const std::int64_t header_ns = nanoseconds(limits.header_timeout).count();
  const bool drain_over = stopping_ && now_ >= drain_deadline_;
  for (std::uint32_t slot = 0; slot < high_water_; ++slot) {
    Connection& c = conns_[slot];
    if (c.fd < 0 || c.killing) continue;
    if (drain_over) {
      Kill(c, slot);
    } else if (c.lingering) {
      if (now_ - c.linger_started > kLingerNs) Kill(c, slot);
    } else if (c.out_len > c.out_start) {
      // Output waiting: the client must keep reading.
      if (now_ - c.last_send_progress > idle_ns) {
        shard_.metrics_.idle_timeouts.Add();
        Kill(c, slot);
      }
    } else if (c.head_started != 0) {
      if (now_ - c.head_started > header_ns) {
        shard_.metrics_.header_timeouts.Add();  // slowloris, or a silent new connection
        Kill(c, slot);
      }
    } else if (now_ - c.last_activity > idle_ns || (stopping_ && c.framer.done() && !c.paused)) {
      if (!stopping_) shard_.metrics_.idle_timeouts.Add();
      Kill(c, slot);
    }
  }
}

void Shard::Loop::BeginStop() {
  stopping_ = true;
  drain_deadline_ = now_ + kDrainNs;
  if (accept_armed_) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, UserData(Op::kAccept), 0);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
  }
  if (listener_open_) {
    // Stop taking connections now; the other shards' listeners are closing too.
    ::close(shard_.options_.listen_fd);
    listener_open_ = false;
  }
  // Idle keep-alive connections go now; the rest finish the request in hand (Sweep), answer
  // with "Connection: close", or are cut at the drain deadline.
  for (std::uint32_t slot = 0; slot < high_water_; ++slot) {
    Connection& c = conns_[slot];
    if (c.fd < 0 || c.killing) continue;
    const bool idle =
        c.out_len == c.out_start && c.in_len == 0 && c.framer.done() && !c.send_in_flight;
    if (idle) Kill(c, slot);
  }
}

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
