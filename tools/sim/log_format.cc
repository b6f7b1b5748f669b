#include "sim/log_format.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "sim/log_json.h"
#include "sim/log_request.h"
#include "sim/log_time.h"

namespace sluice::sim {
namespace {

using json::CloseQuote;
using json::SkipWs;
using json::Unescape;
using json::ValueEnd;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// JSON slots; header parts follow kHeader0.
enum Slot : int {
  kTime,
  kIp,
  kForwarded,
  kMethod,
  kPath,
  kRequest,
  kKey,
  kCost,
  kPolicy,
  kHeader0
};
constexpr int kSlots = kHeader0 + KeySpec::kMaxParts;

// Appends a client address in sluiced's rendering: IPv4 as it is, IPv6 canonical (IPv4-mapped
// as IPv4), /64 prefixes of IPv6 with "/64". Text that is no address is kept as it is (a log
// may hold host names).
void AppendIp(std::string& out, std::string_view ip, bool prefix64) {
  if (ip.find(':') == std::string_view::npos) {
    out.append(ip);
    return;
  }
  char text[INET6_ADDRSTRLEN + 4] = {};
  if (ip.size() >= sizeof text) {
    out.append(ip);
    return;
  }
  std::memcpy(text, ip.data(), ip.size());
  unsigned char a[16];
  if (inet_pton(AF_INET6, text, a) != 1) {
    out.append(ip);
    return;
  }
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a, kMapped, 12) == 0) {
    inet_ntop(AF_INET, a + 12, text, sizeof text);
    out.append(text);
    return;
  }
  if (prefix64) std::memset(a + 8, 0, 8);
  inet_ntop(AF_INET6, a, text, sizeof text);
  out.append(text);
  if (prefix64) out.append("/64");
}

bool ParseAnyTime(std::string_view text, std::int64_t& t) {
  return ParseIsoTime(text, t) || ParseClfTime(text, t) || ParseEpochTime(text, t);
}

}  // namespace

absl::StatusOr<LogParser> LogParser::Create(LogParserOptions options) {
  LogParser p(std::move(options));
  const LogParserOptions& o = p.options_;
  const auto cannot = [&](std::string_view format, const KeyPartSpec& part, std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--key ", part.ToString(), ": ", Absl(format), " logs ", Absl(why)));
  };
  if (o.key.has_value()) {
    for (std::size_t i = 0; i < o.key->parts.size(); ++i) {
      const KeyPartSpec& part = o.key->parts[i];
      const bool address = part.kind == KeyPartKind::kIp || part.kind == KeyPartKind::kIp64;
      switch (o.format) {
        case LogFormat::kCommon:
          if (part.kind == KeyPartKind::kHeader) {
            return cannot("common", part,
                          "have no headers (the combined format has referer and "
                          "user-agent)");
          }
          break;
        case LogFormat::kCombined:
          if (part.kind == KeyPartKind::kHeader) {
            if (part.header == "referer") {
              p.clf_header_[i] = 0;
            } else if (part.header == "user-agent") {
              p.clf_header_[i] = 1;
            } else {
              return cannot("combined", part, "have only the referer and user-agent headers");
            }
          }
          break;
        case LogFormat::kSluiced:
          if (!address) {
            return cannot("sluiced decision", part,
                          "have only the client address and the policy's rendered key (leave "
                          "--key out to replay by that key)");
          }
          break;
        case LogFormat::kJson:
          break;
      }
    }
  }
  if (o.format == LogFormat::kJson && o.key.has_value() && !o.fields.key.empty()) {
    return absl::InvalidArgumentError("give --key or --field key=FIELD, not both");
  }
  if (o.format != LogFormat::kSluiced && !o.policy.empty()) {
    return absl::InvalidArgumentError("--policy applies to --format sluiced only");
  }
  // JSON field names per slot.
  const auto want = [&](std::string name, int slot) {
    if (!name.empty()) p.wanted_.push_back(Wanted{std::move(name), slot});
  };
  if (o.format == LogFormat::kSluiced) {
    want("time_ns", kTime);
    want("client", kIp);
    want("forwarded_client", kForwarded);
    want("key", kKey);
    want("policy", kPolicy);
  } else if (o.format == LogFormat::kJson) {
    const LogFields& f = o.fields;
    want(f.time, kTime);
    want(f.ip, kIp);
    want(f.method, kMethod);
    want(f.path, kPath);
    want(f.request, kRequest);
    want(f.key, kKey);
    want(f.cost, kCost);
    if (o.key.has_value()) {
      for (std::size_t i = 0; i < o.key->parts.size(); ++i) {
        const KeyPartSpec& part = o.key->parts[i];
        if (part.kind != KeyPartKind::kHeader) continue;
        std::string field = "http_" + part.header;
        std::replace(field.begin(), field.end(), '-', '_');
        for (const auto& [header, name] : f.headers) {
          if (header == part.header) field = name;
        }
        want(field, kHeader0 + static_cast<int>(i));
      }
    }
  }
  p.scratch_.resize(kSlots);
  return p;
}

std::string LogParser::KeyName() const {
  if (options_.key.has_value()) return options_.key->ToString();
  switch (options_.format) {
    case LogFormat::kSluiced:
      return "the logged key";
    case LogFormat::kJson:
      if (!options_.fields.key.empty()) return absl::StrCat("field ", options_.fields.key);
      return "ip";
    default:
      return "ip";
  }
}

LogParser::Result LogParser::Parse(std::string_view line, LogLine& out, const char*& why) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  out = LogLine{};
  if (options_.format == LogFormat::kCombined || options_.format == LogFormat::kCommon) {
    return ParseClf(line, out, why);
  }
  return ParseJson(line, out, why);
}

LogParser::Result LogParser::ParseClf(std::string_view s, LogLine& out, const char*& why) {
  // IP IDENT USER [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 2326 "REFERER" "UA"
  const std::size_t ip_end = s.find(' ');
  if (ip_end == std::string_view::npos || ip_end == 0) {
    why = "no client address";
    return Result::kMalformed;
  }
  out.ip = s.substr(0, ip_end);
  const std::size_t lb = s.find('[', ip_end);
  if (lb == std::string_view::npos || s[lb - 1] != ' ') {
    why = "no [time]";
    return Result::kMalformed;
  }
  const std::size_t rb = lb + 1 + kClfTimeSize;
  if (rb + 2 >= s.size() || s[rb] != ']' || s[rb + 1] != ' ' || s[rb + 2] != '"') {
    why = "no [time] followed by a quoted request";
    return Result::kMalformed;
  }
  const std::string_view time = s.substr(lb + 1, kClfTimeSize);
  if (has_last_time_ && std::memcmp(time.data(), last_time_, kClfTimeSize) == 0) {
    out.t_ns = last_time_ns_;
  } else {
    if (!ParseClfTime(time, out.t_ns)) {
      why = "bad time (expected dd/Mon/yyyy:hh:mm:ss +hhmm)";
      return Result::kMalformed;
    }
    std::memcpy(last_time_, time.data(), kClfTimeSize);
    last_time_ns_ = out.t_ns;
    has_last_time_ = true;
  }
  const std::size_t rq = rb + 3;
  const std::size_t rq_end = CloseQuote(s, rq);
  if (rq_end == std::string_view::npos) {
    why = "unterminated request";
    return Result::kMalformed;
  }
  const std::string_view request = s.substr(rq, rq_end - rq);
  // " STATUS BYTES"
  std::size_t i = rq_end + 1;
  if (i + 4 > s.size() || s[i] != ' ') {
    why = "no status";
    return Result::kMalformed;
  }
  for (std::size_t k = 1; k <= 3; ++k) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i + k]))) {
      why = "bad status";
      return Result::kMalformed;
    }
  }
  i += 4;
  if (i >= s.size() || s[i] != ' ') {
    why = "no response size";
    return Result::kMalformed;
  }
  const std::size_t size_begin = ++i;
  while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == size_begin && !(i < s.size() && s[i] == '-' && ++i)) {
    why = "bad response size";
    return Result::kMalformed;
  }
  if (options_.format == LogFormat::kCommon) {
    if (i != s.size() && s[i] != ' ') {
      why = "bad response size";
      return Result::kMalformed;
    }
    return ReadClfRequest(request, out, why);
  }
  // ' "REFERER" "USER-AGENT"'
  std::string_view headers[2];
  for (std::string_view& h : headers) {
    if (i + 1 >= s.size() || s[i] != ' ' || s[i + 1] != '"') {
      why = "no quoted referer and user agent (a common-format line? --format common)";
      return Result::kMalformed;
    }
    const std::size_t end = CloseQuote(s, i + 2);
    if (end == std::string_view::npos) {
      why = "unterminated referer or user agent";
      return Result::kMalformed;
    }
    h = s.substr(i + 2, end - i - 2);
    i = end + 1;
  }
  if (options_.key.has_value()) {
    for (std::size_t p = 0; p < options_.key->parts.size(); ++p) {
      if (options_.key->parts[p].kind == KeyPartKind::kHeader) {
        const std::string_view h = headers[clf_header_[p]];
        out.parts[p] = h == "-" ? std::string_view() : h;
      }
    }
  }
  return ReadClfRequest(request, out, why);
}

// The method and normalised path of a well-formed line's request, or why sluiced refuses it.
LogParser::Result LogParser::ReadClfRequest(std::string_view request, LogLine& out,
                                            const char*& why) {
  std::string_view target;
  if (!SplitRequestLine(request, out.method, target)) {
    why =
        "no request line (nginx writes \"-\" for a connection that sent none): sluiced "
        "decides no request";
    return Result::kRefused;
  }
  return request_.Read(out.method, target, true, out.path, why) ? Result::kOk : Result::kRefused;
}

LogParser::Result LogParser::ParseJson(std::string_view s, LogLine& out, const char*& why) {
  std::array<std::string_view, kSlots> value{};
  std::array<bool, kSlots> is_string{};
  std::size_t i = SkipWs(s, 0);
  if (i >= s.size() || s[i] != '{') {
    why = "not a JSON object";
    return Result::kMalformed;
  }
  i = SkipWs(s, i + 1);
  bool first = true;
  for (;;) {
    if (i >= s.size()) {
      why = "unterminated JSON object";
      return Result::kMalformed;
    }
    if (s[i] == '}') break;
    if (!first) {
      if (s[i] != ',') {
        why = "bad JSON (expected ',' or '}')";
        return Result::kMalformed;
      }
      i = SkipWs(s, i + 1);
    }
    first = false;
    bool name_string = false;
    bool name_escaped = false;
    const std::size_t name_end = ValueEnd(s, i, name_string, name_escaped);
    if (name_end == std::string_view::npos || !name_string) {
      why = "bad JSON (expected a field name)";
      return Result::kMalformed;
    }
    const std::string_view name = s.substr(i + 1, name_end - i - 2);
    i = SkipWs(s, name_end);
    if (i >= s.size() || s[i] != ':') {
      why = "bad JSON (expected ':')";
      return Result::kMalformed;
    }
    i = SkipWs(s, i + 1);
    bool string = false;
    bool escaped = false;
    const std::size_t end = ValueEnd(s, i, string, escaped);
    if (end == std::string_view::npos) {
      why = "bad JSON value";
      return Result::kMalformed;
    }
    for (const Wanted& w : wanted_) {
      if (w.name != name) continue;
      const auto slot = static_cast<std::size_t>(w.slot);
      std::string_view v = string ? s.substr(i + 1, end - i - 2) : s.substr(i, end - i);
      if (!string && v == "null") v = {};
      if (escaped) {
        if (!Unescape(v, scratch_[slot])) {
          why = "bad JSON string escape";
          return Result::kMalformed;
        }
        v = scratch_[slot];
      }
      value[slot] = v;
      is_string[slot] = string;
    }
    i = SkipWs(s, end);
  }
  if (SkipWs(s, i + 1) != s.size()) {
    why = "text after the JSON object";
    return Result::kMalformed;
  }
  // Time.
  const std::string_view time = value[kTime];
  if (time.empty()) {
    why = "no time field";
    return Result::kMalformed;
  }
  const bool time_ok =
      options_.format == LogFormat::kSluiced
          ? !is_string[kTime] && absl::SimpleAtoi(Absl(time), &out.t_ns) && out.t_ns >= 0
          : (is_string[kTime] ? ParseAnyTime(time, out.t_ns) : ParseEpochTime(time, out.t_ns));
  if (!time_ok) {
    why = "bad time field";
    return Result::kMalformed;
  }
  if (options_.format == LogFormat::kSluiced) {
    out.policy = value[kPolicy];
    if (!options_.policy.empty() && out.policy != options_.policy) return Result::kSkipped;
    out.ip = value[kForwarded].empty() ? value[kIp] : value[kForwarded];
    out.key = value[kKey];
    if (value[kKey].data() == nullptr) {
      why = "no key field";
      return Result::kMalformed;
    }
    return Result::kOk;
  }
  out.ip = value[kIp];
  out.method = value[kMethod];
  std::string_view target = value[kPath];
  if ((out.method.empty() || target.empty()) && !value[kRequest].empty()) {
    std::string_view m;
    std::string_view t;
    if (!SplitRequestLine(value[kRequest], m, t)) {
      why = "the request field is no request line: sluiced decides no request";
      return Result::kRefused;
    }
    if (out.method.empty()) out.method = m;
    if (target.empty()) target = t;
  }
  if (!request_.Read(out.method, target, false, out.path, why)) return Result::kRefused;
  out.key = value[kKey];
  if (!value[kCost].empty() && !absl::SimpleAtoi(Absl(value[kCost]), &out.cost)) {
    why = "bad cost field (expected a non-negative integer)";
    return Result::kMalformed;
  }
  for (std::size_t p = 0; p < KeySpec::kMaxParts; ++p) {
    out.parts[p] = value[static_cast<std::size_t>(kHeader0) + p];
  }
  return Result::kOk;
}

bool LogParser::BuildKey(const LogLine& line, std::string& key, const char*& missing) {
  key.clear();
  if (!options_.key.has_value()) {
    if (options_.format == LogFormat::kSluiced ||
        (options_.format == LogFormat::kJson && !options_.fields.key.empty())) {
      if (line.key.data() == nullptr || (options_.format == LogFormat::kJson && line.key.empty())) {
        missing = "no key field";
        return false;
      }
      key.append(line.key);
      return true;
    }
    if (line.ip.empty()) {
      missing = "no client address";
      return false;
    }
    key.append("ip=");
    AppendIp(key, line.ip, false);
    return true;
  }
  const std::vector<KeyPartSpec>& parts = options_.key->parts;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    if (p > 0) key.push_back(' ');
    switch (parts[p].kind) {
      case KeyPartKind::kIp:
      case KeyPartKind::kIp64: {
        if (line.ip.empty()) {
          missing = "no client address";
          return false;
        }
        const bool prefix = parts[p].kind == KeyPartKind::kIp64;
        key.append(prefix ? "ip/64=" : "ip=");
        AppendIp(key, line.ip, prefix);
        break;
      }
      case KeyPartKind::kHeader:
        if (line.parts[p].empty()) {
          missing = "no value for a header:NAME key part";
          return false;
        }
        key.append("header=");
        key.append(line.parts[p]);
        break;
      case KeyPartKind::kPath:
        if (line.path.empty()) {
          missing = "no path (the request is not METHOD TARGET VERSION)";
          return false;
        }
        key.append("path=");
        key.append(line.path);
        break;
      case KeyPartKind::kMethod:
        if (line.method.empty()) {
          missing = "no method (the request is not METHOD TARGET VERSION)";
          return false;
        }
        key.append("method=");
        key.append(line.method);
        break;
    }
  }
  return true;
}

}  // namespace sluice::sim
