#include "nginx_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "harness.h"

namespace sluice::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

NginxBinary FindNginx() {
  for (const char* candidate : {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"}) {
    if (::access(candidate, X_OK) != 0) continue;
    const auto [status, version] = RunShell(std::string(candidate) + " -V");
    if (status != 0) return {"", std::string(candidate) + " -V failed: " + version};
    if (version.find("http_auth_request_module") == std::string::npos) {
      return {"", std::string(candidate) + " lacks ngx_http_auth_request_module"};
    }
    return {candidate, ""};
  }
  return {"", "nginx is not installed (tools/install-deps.sh installs it)"};
}

NginxProcess::NginxProcess(const std::string& binary, const fs::path& dir, std::uint16_t port,
                           NginxOptions options)
    : dir_(dir) {
  const std::string processes = options.workers > 0 ? "master_process on; worker_processes " +
                                                          std::to_string(options.workers) + ";"
                                                    : "master_process off;";
  const std::string globals = "daemon off; " + processes + " pid " + (dir / "nginx.pid").string() +
                              "; error_log " + (dir / "error.log").string() + " " +
                              options.error_log_level + ";";
  std::vector<std::string> args = {
      binary, "-p", dir.string() + "/", "-c", (dir / "nginx.conf").string(), "-g", globals};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int out =
      ::open((dir / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) return;
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(125);  // the test died before prctl
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(out);
  if (pid_ < 0) return;
  ready_ = PollUntil(
               [&] {
                 if (!Running()) return true;
                 Client c(port, 1s);
                 return c.connected();
               },
               10s) &&
           Running();
}

NginxProcess::~NginxProcess() {
  if (!Running()) return;
  const std::vector<pid_t> workers = Workers();
  ::kill(pid_, SIGTERM);
  if (!PollUntil([&] { return !Running(); }, 5s)) {
    for (const pid_t w : workers) ::kill(w, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::vector<pid_t> NginxProcess::Workers() const {
  std::vector<pid_t> out;
  if (pid_ <= 0) return out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read past the ')'.
    const std::string stat = ReadFile(entry.path() / "stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    const long ppid = std::strtol(stat.c_str() + close + 4, nullptr, 10);
    if (ppid == pid_) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

void NginxProcess::Signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::string NginxProcess::Log() const {
  return ReadFile(dir_ / "stderr.log") + ReadFile(dir_ / "error.log");
}

bool NginxProcess::Running() {
  if (pid_ <= 0 || exited_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

std::uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

bool ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  bool found = false;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
    found = true;
  }
  return found;
}

std::pair<int, std::string> RunShell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, out};
  std::array<char, 4096> buf{};
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) {
    out.append(buf.data(), n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace sluice::e2e
