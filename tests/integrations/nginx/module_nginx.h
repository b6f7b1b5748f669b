// Debian's nginx with ngx_http_sluice_module loaded, in a temp dir on a free loopback port,
// stopped by PID (tests/e2e/nginx_process.h does the process part).
#ifndef SLUICE_TESTS_INTEGRATIONS_NGINX_MODULE_NGINX_H_
#define SLUICE_TESTS_INTEGRATIONS_NGINX_MODULE_NGINX_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"
#include "nginx_process.h"

namespace sluice::nginx_test {

// The module under test (a build product) and nginx; `missing` says why a test must skip.
struct Binaries {
  std::string nginx;
  std::string module;
  std::string missing;
};
const Binaries& Find();

// An nginx whose http{} block is `http_body`, in which @PORT@ stands for the port it listens
// on (`listen 127.0.0.1:@PORT@ reuseport;`) and @DIR@ for its directory.
class ModuleNginx {
 public:
  explicit ModuleNginx(const std::string& http_body, e2e::NginxOptions options = {});
  ~ModuleNginx();
  ModuleNginx(const ModuleNginx&) = delete;
  ModuleNginx& operator=(const ModuleNginx&) = delete;

  bool ok() const { return process_ != nullptr && process_->ready(); }
  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  e2e::NginxProcess& process() { return *process_; }
  std::string Log() const;

  // SIGHUP, then waits until none of the workers from before is left: every answer after it
  // comes from the new configuration. False on timeout.
  bool Reload();

 private:
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<e2e::NginxProcess> process_;
};

// Writes `http_body` as a full nginx.conf into `dir` (load_module, events, temp paths).
std::string FullConfig(const std::string& http_body, const std::filesystem::path& dir,
                       std::uint16_t port);

// `nginx -t` on a config with this http{} body: exit status and output.
std::pair<int, std::string> TestConfig(const std::string& http_body);

// GET `path` with `headers` on a fresh connection.
std::optional<e2e::Response> Get(std::uint16_t port, const std::string& path,
                                 const std::string& headers = "");
std::string KeyHeader(const std::string& key);  // "X-Key: <key>\r\n"

// RFC 8941 checks of the IETF RateLimit fields as sluiced writes them:
//   RateLimit-Policy: "name";q=<int>;w=<int>     RateLimit: "name";r=<int>;t=<int>
// Returns the parameters (name under ""), or nullopt when the value is not that shape.
std::optional<std::map<std::string, std::string>> ParseRateLimitField(
    const std::string& value, const std::vector<std::string>& params);

}  // namespace sluice::nginx_test

#endif  // SLUICE_TESTS_INTEGRATIONS_NGINX_MODULE_NGINX_H_
