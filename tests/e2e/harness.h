// End-to-end harness: starts the real sluiced binary on port 0 and talks to it over loopback.
#ifndef SLUICE_TESTS_E2E_HARNESS_H_
#define SLUICE_TESTS_E2E_HARNESS_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::e2e {

// A parsed HTTP response.
struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// How the child process is set up before exec.
struct StartOptions {
  // RLIMIT_NOFILE (soft and hard) of the server; 0: inherited.
  rlim_t max_open_files = 0;
  // A command the server runs under, e.g. {"valgrind", "--error-exitcode=99"}: the server is
  // started as `wrapper... sluiced --config FILE extra_args...`. Empty: sluiced itself.
  std::vector<std::string> wrapper;
  // How long to wait for the server to print its ports.
  std::chrono::milliseconds startup_timeout = std::chrono::seconds(20);
};

class Sluiced {
 public:
  // Writes `yaml` to a temp file and starts `sluiced --config FILE` plus `extra_args`.
  // Waits until it prints its listen and admin ports (or exits). ok() tells which.
  explicit Sluiced(const std::string& yaml, std::vector<std::string> extra_args = {},
                   StartOptions options = {});
  ~Sluiced();  // SIGKILL if still running

  bool ok() const { return port_ != 0; }
  bool io_uring_refused() const;  // it exited because the kernel refused io_uring
  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& output() const { return output_; }

  void Signal(int sig) const;
  // Waits for exit; returns the exit code (or -signal). nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // Rewrites the config file (for reload tests).
  void WriteConfig(const std::string& yaml) const;
  // Reads whatever the server printed since (non-blocking), and returns all output so far.
  const std::string& DrainOutput();
  // Resident memory in KiB (VmRSS).
  long RssKib() const;
  // Open file descriptors of the server (entries of /proc/PID/fd); -1 if unreadable.
  long OpenFds() const;
  // CPU time used so far (user + system, all threads), in clock ticks (sysconf(_SC_CLK_TCK)).
  long CpuTicks() const;
  // Still running (not exited, not killed)?
  bool Running();
  // The body of GET /metrics on the admin port; nullopt when it does not answer 200.
  std::optional<std::string> Metrics() const;
  // The sum of `series` (see MetricSum) in a fresh GET /metrics; 0 when it does not answer.
  std::uint64_t Metric(const std::string& series) const;

 private:
  std::string config_path_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::optional<int> exit_code_;
};

enum class Family { kV4, kV6 };  // connect to 127.0.0.1 or to ::1

// A blocking loopback client connection with receive timeouts. `source` (IPv4 only, e.g.
// "127.0.0.2": all of 127/8 is loopback on Linux) binds the client's own address first: a
// client the server sees as another address, or short connections spread over several
// addresses' ephemeral ports. Empty: the kernel's choice.
class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                  Family family = Family::kV4, const std::string& source = "");
  ~Client();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool Send(const std::string& data);
  // Closes with an RST (SO_LINGER 0): the server sees a reset, the client keeps no TIME_WAIT.
  void Reset();
  // Reads one whole response (Content-Length framing). nullopt on timeout, close or garbage.
  std::optional<Response> Read();
  // True when the server closed the connection (EOF) within the timeout, with no more data.
  bool ReadsEof();
  // Everything the server sends until it closes (EOF or reset), including bytes already
  // buffered. nullopt when the timeout passes first.
  std::optional<std::string> ReadToEof();
  void Close();

 private:
  int fd_ = -1;
  std::string buffer_;
};

// One request, one response, on a fresh connection.
std::optional<Response> Get(std::uint16_t port, const std::string& raw_request);
std::string Request(const std::string& path, const std::string& extra_headers = "");
// The status of the answer to `raw_request` on a fresh connection; 0 when there is none.
int StatusOf(std::uint16_t port, const std::string& raw_request);

// Calls `condition` every few milliseconds until it holds (true) or `timeout` passes (false).
bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// The sum of every sample of `series` in a Prometheus text body: `series` is a metric name
// (all its label sets are summed) or a name with labels written exactly as the server
// prints them, e.g. sluice_requests_total{outcome="denied"}. 0 when absent.
std::uint64_t MetricSum(const std::string& text, const std::string& series);

// A fresh, empty file under /tmp (a decision log, say); removed at scope exit. path() is empty
// when it could not be made.
class TempFile {
 public:
  TempFile();
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  // Its non-empty lines, now.
  std::vector<std::string> Lines() const;
  // Polls until it holds at least `count` lines (or 10 s pass); returns the lines seen last.
  std::vector<std::string> WaitForLines(std::size_t count) const;

 private:
  std::string path_;
};

// The raw value of `"field":` in a flat JSON object line: a number, or a string with its
// quotes. Empty when absent. (The decision log's lines are flat; the strings the tests look
// for hold no quotes.)
std::string JsonField(const std::string& line, const std::string& field);

// Polls /metrics until `series` (as in MetricSum) reaches at least `at_least`, for at most
// 10 s; returns the last value seen.
std::uint64_t WaitForMetric(const Sluiced& server, const std::string& series,
                            std::uint64_t at_least);

// sluice_policy_decisions_total{policy="POLICY",decision="DECISION"}
std::string PolicySeries(const std::string& policy, const std::string& decision);

}  // namespace sluice::e2e

#endif  // SLUICE_TESTS_E2E_HARNESS_H_
