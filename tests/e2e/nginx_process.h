// Runs Debian's nginx by hand for end-to-end tests: in the foreground, in a temp dir, on
// loopback ports the test picks, never through systemd.
#ifndef SLUICE_TESTS_E2E_NGINX_PROCESS_H_
#define SLUICE_TESTS_E2E_NGINX_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace sluice::e2e {

// The nginx binary, if it is installed and built with ngx_http_auth_request_module.
struct NginxBinary {
  std::string path;
  std::string missing;  // non-empty: why there is none (the reason a test skips)
};
NginxBinary FindNginx();

struct NginxOptions {
  // 0: one process (`master_process off`: no worker can outlive a SIGKILL of the one pid held
  // here). N > 0: a master and N worker processes (`worker_processes N`), for tests of what
  // workers share; the destructor stops the workers too.
  int workers = 0;
  // Level of the error log in DIR/error.log.
  std::string error_log_level = "info";
};

// nginx -p DIR/ -c DIR/nginx.conf in the foreground (`daemon off`), with its pid file and error
// log in DIR. It dies with the test process (PR_SET_PDEATHSIG) even if the test crashes. The
// config must put every other path (temp dirs, access log) in DIR too.
class NginxProcess {
 public:
  // Starts nginx and waits until it accepts on `port` (or exits). ready() tells which.
  NginxProcess(const std::string& binary, const std::filesystem::path& dir, std::uint16_t port,
               NginxOptions options = {});
  ~NginxProcess();  // SIGTERM (fast shutdown), SIGKILL after 5 s (workers too)
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  bool ready() const { return ready_; }
  pid_t pid() const { return pid_; }  // the master (or the single process)
  // The master's children right now (workers), read from /proc.
  std::vector<pid_t> Workers() const;
  // Sends `sig` to the master (SIGHUP: reload the configuration).
  void Signal(int sig) const;
  // Still running?
  bool Running();
  // What nginx printed, then its error log.
  std::string Log() const;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  bool exited_ = false;
  bool ready_ = false;
};

// A loopback port nobody listens on right now. nginx cannot bind port 0 and say which port it
// got, so a test picks one; a lost race shows as "Address already in use" in Log() and the
// caller retries with another.
std::uint16_t FreeLoopbackPort();

// Small file and process helpers for such tests.
std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& text);
// Replaces every `from` in `text`; false when there is none.
bool ReplaceAll(std::string& text, const std::string& from, const std::string& to);
// Runs `command` through /bin/sh; returns its exit status (-1: did not exit) and its output
// (stdout and stderr).
std::pair<int, std::string> RunShell(const std::string& command);

}  // namespace sluice::e2e

#endif  // SLUICE_TESTS_E2E_NGINX_PROCESS_H_
