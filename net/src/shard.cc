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

namespace sluice::net {
namespace {

using std::chrono::nanoseconds;

// user_data of every SQE: operation (8 bits) | connection slot (24 bits) | slot generation
// (32 bits). The generation tells a completion for a connection from one for the next
// connection that reused its slot.
enum class Op : std::uint8_t {
  kAccept = 1,
  kRecv,
  kSend,
  kClose,
  kCloseRefused,
  kCancel,
  kShutdown,
  kWake
};
constexpr std::uint64_t UserData(Op op, std::uint32_t slot = 0, std::uint32_t gen = 0) {
  return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) |
         (std::uint64_t{slot & 0xffffffu} << 32) | gen;
}
constexpr Op OpOf(std::uint64_t ud) { return static_cast<Op>(ud >> 56); }
constexpr std::uint32_t SlotOf(std::uint64_t ud) {
  return static_cast<std::uint32_t>((ud >> 32) & 0xffffffu);
}
constexpr std::uint32_t GenOf(std::uint64_t ud) { return static_cast<std::uint32_t>(ud); }

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kCqEntries = 16384;  // room for multishot bursts: 4 CQEs per SQ entry
constexpr std::uint16_t kBufferGroup = 1;
constexpr unsigned kRingBuffers = 256;  // power of two
constexpr unsigned kRingBufferBytes = 16384;
constexpr std::int64_t kSweepNs = 250'000'000;
constexpr std::int64_t kLingerNs = 2'000'000'000;
constexpr std::int64_t kDrainNs = 5'000'000'000;
constexpr std::int64_t kAcceptBackoffNs = 100'000'000;

std::int64_t MonotonicNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no syscall
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

struct Shard::Connection {
  int fd = -1;
  std::uint32_t generation = 0;
  std::uint32_t next_free = 0;
  bool recv_armed = false;
  bool recv_stopped = false;  // cancelled on purpose (output backed up)
  bool send_in_flight = false;
  bool close_after_send = false;
  bool lingering = false;  // SHUT_WR sent, draining the client's last bytes
  bool killing = false;
  bool close_submitted = false;
  bool paused = false;  // output buffer too full to answer another request
  bool dirty = false;   // on the send list of this pass
  sockaddr_storage peer{};
  BodyFramer framer;
  std::unique_ptr<char[]> memory;  // in + out, kept across connections of this slot
  char* in = nullptr;
  std::uint32_t in_len = 0;
  std::uint32_t in_cap = 0;
  char* out = nullptr;
  std::uint32_t out_start = 0;
  std::uint32_t out_len = 0;
  std::uint32_t out_cap = 0;
  std::int64_t last_activity = 0;
  std::int64_t last_send_progress = 0;
  std::int64_t head_started = 0;  // a head (or the first one) is awaited since; 0: none
  std::int64_t linger_started = 0;
};

// The loop proper: lives on the shard's thread stack; owns the ring.
class Shard::Loop {
 public:
  explicit Loop(Shard& shard) : shard_(shard), scratch_(1) {}
  ~Loop();

  absl::Status Init();
  void Run();

 private:
  io_uring_sqe* Sqe();
  void ArmAccept();
  void ArmRecv(Connection& c, std::uint32_t slot);
  void ArmWake();
  void Handle(const io_uring_cqe& cqe);
  void OnAccept(int fd);
  void OnRecv(const io_uring_cqe& cqe, Connection* c, std::uint32_t slot);
  void OnSend(int res, Connection& c, std::uint32_t slot);
  void OnData(Connection& c, std::uint32_t slot, const char* data, std::size_t len);
  std::size_t Drive(Connection& c, std::uint32_t slot, const char* p, std::size_t n);
  void Answer(Connection& c, std::uint32_t slot);
  void AnswerError(Connection& c, std::uint32_t slot, int status);
  void MarkDirty(Connection& c, std::uint32_t slot);
  void FlushSends();
  void PauseRecv(Connection& c, std::uint32_t slot);
  void BeginLinger(Connection& c, std::uint32_t slot);
  void Kill(Connection& c, std::uint32_t slot);
  void MaybeFinishClose(Connection& c, std::uint32_t slot);
  void Release(std::uint32_t slot);
  void RecycleBuffer(std::uint16_t bid);
  void Sweep();
  void BeginStop();
  void SwitchRuntime();
  Connection* Lookup(std::uint64_t ud);

  Shard& shard_;
  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  char* buffers_ = nullptr;
  unsigned pending_buffers_ = 0;
  std::vector<Connection> conns_;
  std::uint32_t free_head_ = 0;
  std::uint32_t high_water_ = 0;  // slots [0, high_water_) have been used
  std::size_t active_ = 0;
  std::vector<std::uint32_t> dirty_;
  std::vector<std::uint32_t> rearm_;
  const Runtime* runtime_ = nullptr;
  const HttpLimits* limits_ = nullptr;
  std::size_t max_response_ = 0;
  std::uint32_t in_cap_ = 0;
  std::uint32_t out_cap_ = 0;
  KeyScratch scratch_;
  std::unique_ptr<HttpRequest> request_ = std::make_unique<HttpRequest>();
  EvalOutcome outcome_;
  DateCache date_;
  std::int64_t now_ = 0;
  std::int64_t unix_now_ = 0;
  std::int64_t next_sweep_ = 0;
  std::int64_t accept_backoff_until_ = 0;
  std::int64_t drain_deadline_ = 0;
  bool accept_armed_ = false;
  bool stopping_ = false;
  bool listener_open_ = true;
  std::uint64_t wake_value_ = 0;
  std::uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

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
  // Connection buffers keep the size chosen at start (limits that size them need a restart).
  if (in_cap_ == 0) {
    // Room for a partial head plus what may still arrive between deciding to stop reading
    // and the cancel taking effect (a few receive buffers).
    in_cap_ = static_cast<std::uint32_t>(limits_->max_header_bytes + 4 * kRingBufferBytes);
    out_cap_ = static_cast<std::uint32_t>(
        std::max(runtime_->config.limits.max_output_bytes, 4 * max_response_));
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
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, UserData(Op::kRecv, slot, c.generation));
  c.recv_armed = true;
}

void Shard::Loop::Run() {
  ArmAccept();
  ArmWake();
  next_sweep_ = MonotonicNs() + kSweepNs;
  for (;;) {
    // The one syscall of a pass: submit what the last pass queued and wait for completions
    // (at most until the next sweep is due).
    const std::int64_t wait_ns = std::clamp<std::int64_t>(next_sweep_ - now_, 1'000'000, kSweepNs);
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
      io_uring_buf_ring_advance(buf_ring_, pending_buffers_);
      pending_buffers_ = 0;
    }

    if (shard_.stop_.load(std::memory_order_relaxed) && !stopping_) BeginStop();
    if (now_ >= next_sweep_) {
      Sweep();
      next_sweep_ = now_ + kSweepNs;
    }
    for (const std::uint32_t slot : rearm_) {
      Connection& c = conns_[slot];
      if (c.fd >= 0 && !c.recv_armed && !c.recv_stopped && !c.killing) ArmRecv(c, slot);
    }
    rearm_.clear();
    if (!accept_armed_ && listener_open_ && !stopping_ && now_ >= accept_backoff_until_) {
      ArmAccept();
    }
    FlushSends();
    if (stopping_ && active_ == 0) break;
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
      if (c == nullptr) {
        // A stale completion: its buffer still has to go back.
        if (cqe.flags & IORING_CQE_F_BUFFER) {
          RecycleBuffer(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
        }
        return;
      }
      OnRecv(cqe, c, SlotOf(ud));
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
    case Op::kCloseRefused:
    case Op::kCancel:
    case Op::kShutdown:
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
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCloseRefused));
    return;
  }
  const std::uint32_t slot = free_head_;
  Connection& c = conns_[slot];
  free_head_ = c.next_free;
  high_water_ = std::max(high_water_, slot + 1);
  if (!c.memory) {
    // Once per slot, never per request: the slot keeps its buffers for later connections.
    c.memory = std::make_unique<char[]>(std::size_t{in_cap_} + out_cap_);
    c.in = c.memory.get();
    c.out = c.in + in_cap_;
    c.in_cap = in_cap_;
    c.out_cap = out_cap_;
  }
  c.fd = fd;
  c.recv_armed = c.recv_stopped = c.send_in_flight = c.close_after_send = false;
  c.lingering = c.killing = c.close_submitted = c.paused = c.dirty = false;
  c.in_len = c.out_start = c.out_len = 0;
  c.framer = BodyFramer();
  c.last_activity = c.last_send_progress = now_;
  c.head_started = now_;  // the first head is awaited from now: header_timeout applies
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

void Shard::Loop::OnRecv(const io_uring_cqe& cqe, Connection* cp, std::uint32_t slot) {
  Connection& c = *cp;
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) c.recv_armed = false;
  if (cqe.res > 0) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    OnData(c, slot, buffers_ + std::size_t{bid} * kRingBufferBytes,
           static_cast<std::size_t>(cqe.res));
    RecycleBuffer(bid);
    if (!more && c.fd >= 0 && !c.killing && !c.recv_stopped) rearm_.push_back(slot);
  } else if (cqe.res == -ENOBUFS) {
    // The buffer ring ran dry: buffers go back at the end of this pass, then we re-arm.
    shard_.metrics_.recv_enobufs.Add();
    if (!c.killing) rearm_.push_back(slot);
  } else if (cqe.res == -ECANCELED) {
    // Paused on purpose, or being killed: nothing to do here.
  } else {
    // 0: the client closed; <0: reset or another error. Either way this connection is over.
    Kill(c, slot);
  }
  MaybeFinishClose(c, slot);
}

void Shard::Loop::OnData(Connection& c, std::uint32_t slot, const char* data, std::size_t len) {
  c.last_activity = now_;
  if (c.lingering || c.killing || c.close_after_send) return;  // the answer is final: discard
  if (c.in_len > 0 || c.paused) {
    if (c.in_len + len > c.in_cap) {
      // A client that keeps sending while not reading our answers: bounded memory, so close.
      shard_.metrics_.output_overflows.Add();
      Kill(c, slot);
      return;
    }
    std::memcpy(c.in + c.in_len, data, len);
    c.in_len += static_cast<std::uint32_t>(len);
    if (c.paused) return;
    const std::size_t used = Drive(c, slot, c.in, c.in_len);
    c.in_len -= static_cast<std::uint32_t>(used);
    if (c.in_len > 0 && used > 0) std::memmove(c.in, c.in + used, c.in_len);
    return;
  }
  // Zero-copy: parse straight out of the kernel's buffer; keep only an unfinished tail.
  const std::size_t used = Drive(c, slot, data, len);
  const std::size_t rest = len - used;
  if (rest == 0) return;
  if (rest > c.in_cap) {
    shard_.metrics_.output_overflows.Add();
    Kill(c, slot);
    return;
  }
  std::memcpy(c.in, data + used, rest);
  c.in_len = static_cast<std::uint32_t>(rest);
}

std::size_t Shard::Loop::Drive(Connection& c, std::uint32_t slot, const char* p, std::size_t n) {
  std::size_t off = 0;
  while (off < n) {
    if (c.close_after_send) return n;
    if (!c.framer.done()) {
      const BodyFramer::Result r = c.framer.Feed(std::string_view(p + off, n - off));
      off += r.consumed;
      if (r.status == BodyFramer::Status::kError) {
        shard_.metrics_.body_errors.Add();
        AnswerError(c, slot, 400);
        return n;
      }
      if (r.status == BodyFramer::Status::kNeedMore) return n;
      continue;
    }
    if (c.out_cap - c.out_len < max_response_) {
      // No room for another answer: stop here until the client reads what we sent.
      c.paused = true;
      if (c.recv_armed && !c.recv_stopped) PauseRecv(c, slot);
      return off;
    }
    const ParseResult r = ParseRequestHead(std::string_view(p + off, n - off), *limits_, *request_);
    if (r.status == ParseResult::Status::kPartial) {
      if (c.head_started == 0) c.head_started = now_;
      return off;
    }
    if (r.status == ParseResult::Status::kError) {
      shard_.metrics_.parse_errors[static_cast<std::size_t>(r.error)].Add();
      AnswerError(c, slot, StatusFor(r.error));
      return n;
    }
    off += r.consumed;
    c.head_started = 0;
    Answer(c, slot);
    c.framer.Start(*request_);
  }
  return off;
}

void Shard::Loop::Answer(Connection& c, std::uint32_t slot) {
  const Runtime& rt = *runtime_;
  const HttpRequest& req = *request_;
  rt.policies->Evaluate(req, reinterpret_cast<const sockaddr*>(&c.peer), nanoseconds(now_),
                        scratch_, outcome_);
  ShardMetrics& m = shard_.metrics_;
  if (!outcome_.matched) {
    m.requests_unmatched.Add();
  } else if (outcome_.allowed) {
    m.requests_allowed.Add();
  } else {
    m.requests_denied.Add();
  }
  for (std::size_t i = 0; i < outcome_.result_count; ++i) {
    const EvalOutcome::PolicyResult& pr = outcome_.results[i];
    PolicyMetrics& pm = rt.metrics(shard_.options_.index, pr.policy);
    if (pr.missing_key) {
      pm.missing_key.Add();
      pm.denied.Add();
    } else if (pr.allowed) {
      pm.admitted.Add();
    } else if (pr.shadow) {
      pm.shadow_denied.Add();
    } else {
      pm.denied.Add();
    }
  }
  if (shard_.options_.log != nullptr && outcome_.matched && outcome_.reported >= 0) {
    bool log = !outcome_.allowed;
    if (!log && rt.config.log.sample_admits > 0) {
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 7;
      rng_ ^= rng_ << 17;
      log = static_cast<double>(rng_ >> 11) * 0x1.0p-53 < rt.config.log.sample_admits;
    }
    if (log) {
      LogRecord rec;
      rec.unix_ns = unix_now_;
      rec.status = static_cast<std::uint16_t>(outcome_.allowed ? 200 : rt.config.deny_status);
      rec.retry_after_ns = outcome_.decision.retry_after.count();
      const std::string& name =
          rt.policies->policy(static_cast<std::size_t>(outcome_.reported)).name;
      rec.policy_len = static_cast<std::uint8_t>(std::min(name.size(), sizeof rec.policy));
      std::memcpy(rec.policy, name.data(), rec.policy_len);
      rec.key_len = static_cast<std::uint8_t>(FormatKey(outcome_.key, rec.key, sizeof rec.key));
      if (c.peer.ss_family == AF_INET) {
        rec.family = AF_INET;
        std::memcpy(rec.address, &reinterpret_cast<const sockaddr_in&>(c.peer).sin_addr, 4);
      } else if (c.peer.ss_family == AF_INET6) {
        rec.family = AF_INET6;
        std::memcpy(rec.address, &reinterpret_cast<const sockaddr_in6&>(c.peer).sin6_addr, 16);
      }
      if (!shard_.options_.log->Push(shard_.options_.index, rec)) m.log_dropped.Add();
    }
  }
  // "Expect: 100-continue" with a body: we answer without asking for the body, so the client
  // may never send it and its bytes cannot be told from the next request. Close after.
  const bool keep_alive = req.keep_alive && !stopping_ &&
                          !(req.body != BodyKind::kNone && req.Find("expect") != nullptr);
  const std::size_t written =
      rt.responses->WriteDecision(outcome_, keep_alive, req.method == "HEAD", date_,
                                  c.out + c.out_len, c.out_cap - c.out_len, req.minor_version);
  if (written == 0) std::abort();  // impossible: Drive checked room for max_response_bytes()
  c.out_len += static_cast<std::uint32_t>(written);
  MarkDirty(c, slot);
  if (!keep_alive) c.close_after_send = true;
}

void Shard::Loop::AnswerError(Connection& c, std::uint32_t slot, int status) {
  const std::size_t written =
      runtime_->responses->WriteError(status, date_, c.out + c.out_len, c.out_cap - c.out_len);
  c.out_len += static_cast<std::uint32_t>(written);
  c.close_after_send = true;
  MarkDirty(c, slot);
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
    }
  }
  dirty_.clear();
}

void Shard::Loop::OnSend(int res, Connection& c, std::uint32_t slot) {
  c.send_in_flight = false;
  if (res < 0) {
    Kill(c, slot);  // EPIPE, ECONNRESET, ECANCELED: the client is gone or we are closing
    MaybeFinishClose(c, slot);
    return;
  }
  if (c.killing) {
    MaybeFinishClose(c, slot);
    return;
  }
  c.out_start += static_cast<std::uint32_t>(res);
  c.last_send_progress = now_;
  if (c.out_start == c.out_len) {
    c.out_start = c.out_len = 0;
  } else if (c.out_start > c.out_cap / 2) {
    std::memmove(c.out, c.out + c.out_start, c.out_len - c.out_start);
    c.out_len -= c.out_start;
    c.out_start = 0;
  }
  if (c.paused && c.out_cap - c.out_len >= max_response_) {
    // The client read: answer what waited in the input buffer, then listen again.
    c.paused = false;
    const std::size_t used = Drive(c, slot, c.in, c.in_len);
    c.in_len -= static_cast<std::uint32_t>(used);
    if (c.in_len > 0 && used > 0) std::memmove(c.in, c.in + used, c.in_len);
    if (!c.paused && c.recv_stopped) {
      c.recv_stopped = false;
      if (!c.recv_armed) rearm_.push_back(slot);
    }
  }
  // A short send, or answers appended while it was in flight: send the rest.
  MarkDirty(c, slot);
}

void Shard::Loop::PauseRecv(Connection& c, std::uint32_t slot) {
  shard_.metrics_.recv_paused.Add();
  c.recv_stopped = true;
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
  io_uring_sqe_set_data64(sqe, UserData(Op::kShutdown));
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
  if (!c.killing || c.close_submitted || c.recv_armed || c.send_in_flight) return;
  // No operation of ours references the socket any more: close it through the ring.
  c.close_submitted = true;
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_close(sqe, c.fd);
  io_uring_sqe_set_data64(sqe, UserData(Op::kClose, slot, c.generation));
}

void Shard::Loop::Release(std::uint32_t slot) {
  Connection& c = conns_[slot];
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
    } else if (now_ - c.last_activity > idle_ns || (stopping_ && c.framer.done())) {
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
