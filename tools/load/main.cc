// sluice-load: HTTP/1.1 keep-alive load for sluiced and its peers. See worker.h for the loops,
// keys.h for the key distributions, report.h for what it prints.
//   sluice-load --connections 64 --duration 10s --keys uniform:10000 http://127.0.0.1:8080/
#include <netdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "help.h"
#include "load/keys.h"
#include "load/report.h"
#include "load/worker.h"

ABSL_FLAG(unsigned, connections, 64, "keep-alive connections, spread over the threads");
ABSL_FLAG(unsigned, threads, 1, "worker threads (each with its own epoll set)");
ABSL_FLAG(unsigned, pipeline, 1, "requests in flight per connection (closed loop: per write)");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "run for this long (e.g. 10s); default 10s unless --requests is given");
ABSL_FLAG(std::uint64_t, requests, 0, "stop after this many requests are answered or failed");
ABSL_FLAG(double, rate, 0, "open loop at this many requests/s in total; 0: closed loop");
ABSL_FLAG(std::string, keys, "single", "none | single | uniform:N | zipf:N:S | file:PATH");
ABSL_FLAG(std::string, key_header, "x-key", "the request header that carries the key");
ABSL_FLAG(std::uint64_t, seed, 1, "seed of the key draws");
ABSL_FLAG(bool, json, false, "print the report as one JSON object");
ABSL_FLAG(bool, progress, true, "a live progress line on stderr, once a second");

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true, std::memory_order_relaxed); }  // a flag, orders nothing

struct Target {
  std::string host;
  std::string port;
  std::string path;
};

// http://HOST[:PORT][/PATH]; HOST may be [V6].
bool ParseUrl(const std::string& url, Target& target) {
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return false;
  std::string rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  target.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  target.port = "80";
  if (!authority.empty() && authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    target.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      target.port = authority.substr(close + 2);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    target.host = authority.substr(0, colon);
    if (colon != std::string::npos) target.port = authority.substr(colon + 1);
  }
  return !target.host.empty() && !target.port.empty() &&
         target.path.find_first_of("\r\n ") == std::string::npos;
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  using sluice::load::KeyDistribution;
  constexpr std::string_view kUsage =
      "HTTP/1.1 keep-alive load: sluice-load [flags] http://HOST:PORT/PATH";
  absl::SetProgramUsageMessage(absl::string_view(kUsage.data(), kUsage.size()));
  if (sluice::tools::PrintHelpIfAsked(argc, argv, kUsage)) return 0;
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::cerr << "sluice-load: expected one URL, e.g. http://127.0.0.1:8080/ (--help)\n";
    return 2;
  }
  Target target;
  if (!ParseUrl(args[1], target)) {
    std::cerr << "sluice-load: '" << args[1] << "' is not http://HOST[:PORT][/PATH]\n";
    return 2;
  }
  const unsigned threads = absl::GetFlag(FLAGS_threads);
  const unsigned connections = absl::GetFlag(FLAGS_connections);
  const unsigned pipeline = absl::GetFlag(FLAGS_pipeline);
  const std::uint64_t requests = absl::GetFlag(FLAGS_requests);
  const double rate = absl::GetFlag(FLAGS_rate);
  absl::Duration duration = absl::GetFlag(FLAGS_duration);
  if (duration == absl::ZeroDuration() && requests == 0) duration = absl::Seconds(10);
  if (threads == 0 || connections < threads || pipeline == 0 || pipeline > 4096 || rate < 0 ||
      duration < absl::ZeroDuration()) {
    std::cerr << "sluice-load: need threads >= 1, connections >= threads, pipeline in "
                 "1..4096, rate >= 0, duration >= 0\n";
    return 2;
  }
  if (requests != 0 && requests < threads) {
    std::cerr << "sluice-load: --requests must be at least --threads\n";
    return 2;
  }
  auto keys = KeyDistribution::Parse(absl::GetFlag(FLAGS_keys));
  if (!keys.ok()) {
    std::cerr << "sluice-load: " << keys.status().message() << "\n";
    return 2;
  }
  const std::string key_header = absl::GetFlag(FLAGS_key_header);
  if (key_header.empty() || key_header.find_first_of(":\r\n ") != std::string::npos) {
    std::cerr << "sluice-load: --key_header must be a header name\n";
    return 2;
  }

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found);
      rc != 0) {
    std::cerr << "sluice-load: " << target.host << ":" << target.port << ": " << gai_strerror(rc)
              << "\n";
    return 2;
  }
  sluice::load::RunOptions options;
  std::memcpy(&options.address, found->ai_addr, found->ai_addrlen);
  options.address_length = found->ai_addrlen;
  freeaddrinfo(found);
  const std::string host_header = target.host.find(':') != std::string::npos
                                      ? absl::StrCat("[", target.host, "]")
                                      : target.host;
  options.request_prefix = absl::StrCat("GET ", target.path, " HTTP/1.1\r\nHost: ", host_header,
                                        ":", target.port, "\r\n");
  const bool keyed = keys->kind() != KeyDistribution::Kind::kNone;
  if (keyed) absl::StrAppend(&options.request_prefix, key_header, ": ");
  options.request_suffix = keyed ? "\r\n\r\n" : "\r\n";
  options.keys = &*keys;
  options.pipeline = pipeline;
  options.duration = absl::ToChronoNanoseconds(duration);
  options.seed = absl::GetFlag(FLAGS_seed);

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::vector<sluice::load::Progress> progress(threads);
  std::vector<sluice::load::WorkerResult> results(threads);
  std::vector<std::thread> workers;
  const double cpu_before = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < threads; ++i) {
    const unsigned my_connections = connections / threads + (i < connections % threads ? 1 : 0);
    const std::uint64_t my_requests = requests / threads + (i < requests % threads ? 1 : 0);
    workers.emplace_back([&, i, my_connections, my_requests] {
      results[i] = sluice::load::RunWorker(options, my_connections, my_requests, rate / threads,
                                           start, g_stop, progress[i], i);
    });
  }
  // The progress line: every second until the workers finish.
  std::atomic<bool> finished{false};
  std::thread reporter([&] {
    if (!absl::GetFlag(FLAGS_progress)) return;
    const bool tty = isatty(STDERR_FILENO) != 0;
    std::uint64_t last = 0;
    auto tick = start;
    while (!finished.load(std::memory_order_acquire)) {  // pairs with the release below
      for (int i = 0; i < 20 && !finished.load(std::memory_order_acquire); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (finished.load(std::memory_order_acquire)) break;
      const auto now = std::chrono::steady_clock::now();
      std::uint64_t done = 0, errors = 0;
      for (const auto& p : progress) {
        done += p.completed.load(std::memory_order_relaxed);  // a progress figure
        errors += p.errors.load(std::memory_order_relaxed);   // a progress figure
      }
      const double window = std::chrono::duration<double>(now - tick).count();
      std::fprintf(stderr, "%s[%5.1fs] %llu answered, %.0f/s now, %llu errors%s", tty ? "\r" : "",
                   std::chrono::duration<double>(now - start).count(),
                   static_cast<unsigned long long>(done),
                   window > 0 ? static_cast<double>(done - last) / window : 0.0,
                   static_cast<unsigned long long>(errors), tty ? "   " : "\n");
      last = done;
      tick = now;
    }
    if (tty) std::fprintf(stderr, "\n");
  });
  for (auto& w : workers) w.join();
  const auto end = std::chrono::steady_clock::now();
  finished.store(true, std::memory_order_release);  // pairs with the reporter's acquire
  reporter.join();

  sluice::load::RunSummary summary;
  summary.target = args[1];
  summary.keys = absl::GetFlag(FLAGS_keys);
  summary.key_header = keyed ? key_header : "";
  summary.threads = threads;
  summary.connections = connections;
  summary.pipeline = pipeline;
  summary.rate = rate;
  summary.elapsed_s = std::chrono::duration<double>(end - start).count();
  summary.client_cpu_s = CpuSeconds() - cpu_before;
  summary.merged = sluice::load::Merge(results);
  std::cout << (absl::GetFlag(FLAGS_json) ? sluice::load::FormatJson(summary)
                                          : sluice::load::FormatText(summary));
  return summary.merged.completed > 0 ? 0 : 1;
}
