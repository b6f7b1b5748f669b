#include "decision_log.h"

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sluice::net {
namespace {

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecisionLog>> DecisionLog::Open(const std::string& path,
                                                               std::size_t shards) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("log.denials: cannot open '", path, "': ", std::strerror(errno)));
  }
  return std::unique_ptr<DecisionLog>(new DecisionLog(path, file, shards));
}

DecisionLog::DecisionLog(std::string path, std::FILE* file, std::size_t shards)
    : path_(std::move(path)), file_(file) {
  for (std::size_t i = 0; i < shards; ++i) queues_.push_back(std::make_unique<LogQueue>());
  writer_ = std::thread([this] { Run(); });
}

DecisionLog::~DecisionLog() {
  Stop();
  if (file_ != nullptr) std::fclose(file_);
}

void DecisionLog::Stop() {
  if (!writer_.joinable()) return;
  stop_.store(true, std::memory_order_relaxed);
  writer_.join();
}

std::string DecisionLog::Format(const LogRecord& r) {
  char address[INET6_ADDRSTRLEN] = "?";
  inet_ntop(r.family == AF_INET6 ? AF_INET6 : AF_INET, r.address, address, sizeof address);
  std::string line = absl::StrCat("{\"time_ns\":", r.unix_ns, ",\"client\":\"", address, "\"");
  if (r.forwarded_size == 4 || r.forwarded_size == 16) {
    char forwarded[INET6_ADDRSTRLEN] = "?";
    inet_ntop(r.forwarded_size == 4 ? AF_INET : AF_INET6, r.forwarded, forwarded, sizeof forwarded);
    absl::StrAppend(&line, ",\"forwarded_client\":\"", forwarded, "\"");
  }
  line.append(",\"policy\":");
  AppendJsonString(line, std::string_view(r.policy, r.policy_len));
  line.append(",\"key\":");
  AppendJsonString(line, std::string_view(r.key, r.key_len));
  absl::StrAppend(&line, ",\"status\":", r.status, ",\"retry_after_ns\":", r.retry_after_ns, "}");
  return line;
}

std::size_t DecisionLog::Drain() {
  std::size_t n = 0;
  LogRecord record;
  for (auto& queue : queues_) {
    while (queue->pop(record)) {
      const std::string line = Format(record);
      std::fwrite(line.data(), 1, line.size(), file_);
      std::fputc('\n', file_);
      ++n;
    }
  }
  return n;
}

void DecisionLog::Run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    if (reopen_.exchange(false, std::memory_order_relaxed)) {
      if (std::FILE* f = std::fopen(path_.c_str(), "a")) {
        std::fclose(file_);
        file_ = f;
      }
    }
    if (Drain() > 0) std::fflush(file_);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Drain();
  std::fflush(file_);
}

}  // namespace sluice::net
