#include "module_nginx.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#ifndef SLUICE_NGINX_MODULE_PATH
#error "SLUICE_NGINX_MODULE_PATH must name the built ngx_http_sluice_module.so"
#endif

namespace sluice::nginx_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const Binaries& Find() {
  static const Binaries found = [] {
    Binaries b;
    const e2e::NginxBinary nginx = e2e::FindNginx();
    b.nginx = nginx.path;
    b.module = SLUICE_NGINX_MODULE_PATH;
    if (!nginx.missing.empty()) {
      b.missing = nginx.missing;
    } else if (::access(b.module.c_str(), R_OK) != 0) {
      b.missing = b.module + " was not built (nginx-dev missing?)";
    }
    return b;
  }();
  return found;
}

std::string FullConfig(const std::string& http_body, const fs::path& dir, std::uint16_t port) {
  std::string body = http_body;
  e2e::ReplaceAll(body, "@PORT@", std::to_string(port));
  e2e::ReplaceAll(body, "@DIR@", dir.string());
  const std::string d = dir.string();
  return "load_module " + Find().module +
         ";\n"
         "events { worker_connections 4096; }\n"
         "http {\n"
         "  access_log off;\n"
         "  keepalive_requests 100000000;\n"
         "  client_body_temp_path " +
         d + "/body;\n  proxy_temp_path " + d + "/proxy;\n  fastcgi_temp_path " + d +
         "/fastcgi;\n  uwsgi_temp_path " + d + "/uwsgi;\n  scgi_temp_path " + d + "/scgi;\n" +
         body + "\n}\n";
}

namespace {
fs::path TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "sluice-ngxmod-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}
}  // namespace

ModuleNginx::ModuleNginx(const std::string& http_body, e2e::NginxOptions options) {
  dir_ = TempDir();
  if (dir_.empty()) return;
  // nginx cannot bind port 0 and say which it got: pick one, retry when another took it.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = e2e::FreeLoopbackPort();
    e2e::WriteFile(dir_ / "nginx.conf", FullConfig(http_body, dir_, port_));
    process_ = std::make_unique<e2e::NginxProcess>(Find().nginx, dir_, port_, options);
    if (process_->ready()) return;
    if (process_->Log().find("Address already in use") == std::string::npos) return;
    process_.reset();
  }
}

ModuleNginx::~ModuleNginx() {
  process_.reset();
  std::error_code ec;
  if (!dir_.empty() && std::getenv("SLUICE_KEEP_NGINX_DIR") == nullptr) fs::remove_all(dir_, ec);
}

std::string ModuleNginx::Log() const { return process_ ? process_->Log() : "nginx not started"; }

bool ModuleNginx::Reload() {
  const std::vector<pid_t> before = process_->Workers();
  process_->Signal(SIGHUP);
  return e2e::PollUntil(
      [&] {
        const std::vector<pid_t> now = process_->Workers();
        if (now.empty()) return false;
        for (const pid_t p : now) {
          if (std::find(before.begin(), before.end(), p) != before.end()) return false;
        }
        return true;
      },
      20s);
}

std::pair<int, std::string> TestConfig(const std::string& http_body) {
  const fs::path dir = TempDir();
  e2e::WriteFile(dir / "nginx.conf", FullConfig(http_body, dir, 1));
  auto result = e2e::RunShell(Find().nginx + " -t -q -p " + dir.string() + "/ -c " +
                              (dir / "nginx.conf").string() + " -g 'pid " + dir.string() +
                              "/nginx.pid; error_log " + dir.string() + "/error.log;'");
  std::error_code ec;
  fs::remove_all(dir, ec);
  return result;
}

std::optional<e2e::Response> Get(std::uint16_t port, const std::string& path,
                                 const std::string& headers) {
  e2e::Client c(port, 10s);
  if (!c.connected() || !c.Send(e2e::Request(path, headers))) return std::nullopt;
  return c.Read();
}

std::string KeyHeader(const std::string& key) { return "X-Key: " + key + "\r\n"; }

std::optional<std::map<std::string, std::string>> ParseRateLimitField(
    const std::string& value, const std::vector<std::string>& params) {
  // sf-string: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  if (value.empty() || value[i++] != '"') return std::nullopt;
  std::string name;
  for (;;) {
    if (i >= value.size()) return std::nullopt;
    const char c = value[i++];
    if (c == '"') break;
    if (c == '\\') {
      if (i >= value.size() || (value[i] != '"' && value[i] != '\\')) return std::nullopt;
      name += value[i++];
      continue;
    }
    if (c < 0x20 || c > 0x7e) return std::nullopt;
    name += c;
  }
  out[""] = name;
  // parameters: *( ";" key "=" sf-integer ), in the order given, each exactly once
  for (const std::string& key : params) {
    if (i >= value.size() || value[i++] != ';') return std::nullopt;
    if (value.compare(i, key.size(), key) != 0) return std::nullopt;
    i += key.size();
    if (i >= value.size() || value[i++] != '=') return std::nullopt;
    const std::size_t start = i;
    while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
    // sf-integer: at most 15 digits; sluice writes no sign and no leading zeros
    const std::size_t len = i - start;
    if (len == 0 || len > 15 || (len > 1 && value[start] == '0')) return std::nullopt;
    out[key] = value.substr(start, len);
  }
  if (i != value.size()) return std::nullopt;
  return out;
}

}  // namespace sluice::nginx_test
