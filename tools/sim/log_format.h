// Access-log lines to what the replay needs of them: the time, the key's parts, the cost.
//   combined  nginx/Apache "combined": IP IDENT USER [TIME] "REQUEST" STATUS BYTES "REFERER"
//             "USER-AGENT" (anything after the user agent is ignored)
//   common    the same without referer and user agent
//   json      one JSON object per line; field names are configurable (LogFields, --field)
//   sluiced   sluiced's decision log (docs/config.md, log.denials): time_ns, client,
//             forwarded_client, policy, key
// Quoted fields keep their log escapes (nginx writes `"` as \x22, Apache as \"): a key is the
// same text on every line that has it. The request is read as sluiced reads it (log_request.h):
// the path is the target's path normalised by sluiced's own NormalisePath, so respellings of
// one path are one key, and a line whose request sluiced would refuse before any policy (a 400)
// is refused here too, whatever the key.
// A parser is single-threaded and allocation-free per line once warm (its scratch strings are
// reused).
#ifndef SLUICE_TOOLS_SIM_LOG_FORMAT_H_
#define SLUICE_TOOLS_SIM_LOG_FORMAT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/key_spec.h"
#include "sim/log_request.h"

namespace sluice::sim {

enum class LogFormat : std::uint8_t { kCombined, kCommon, kJson, kSluiced };
inline constexpr std::string_view kLogFormats = "combined, common, json, sluiced";
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);

// The JSON fields a line's parts are read from (--field time=ts,ip=client,...). The defaults
// are nginx's variable names, as in `log_format ... escape=json '{"time":"$time_iso8601",...}'`.
struct LogFields {
  std::string time = "time";  // ISO 8601, CLF time, or a Unix time (see log_time.h)
  std::string ip = "remote_addr";
  std::string method = "request_method";
  std::string path = "request_uri";  // the target: its path is read as sluiced reads it
  std::string request = "request";   // "GET /x HTTP/1.1": method and path when those are absent
  std::string key;                   // set: the key is this field's value as it is (no --key)
  std::string cost;                  // set: the cost of the line (an integer), else 1
  // header:NAME parts: the field of each header (default http_NAME with '-' as '_').
  std::vector<std::pair<std::string, std::string>> headers;
};
inline constexpr std::string_view kFieldNames = "time, ip, method, path, request, key, cost";

// Applies "--field NAME=FIELD[,NAME=FIELD...]" (NAME one of kFieldNames or header:NAME).
absl::Status ApplyFieldFlag(std::string_view text, LogFields& fields);

// One parsed line. Views into the line, or into the parser's scratch (unescaped JSON strings):
// valid until the next Parse. An empty view is a field the line does not have.
struct LogLine {
  std::int64_t t_ns = 0;
  std::uint64_t cost = 1;
  std::string_view ip;
  std::string_view method;
  std::string_view path;    // normalised as sluiced normalises it (log_request.h)
  std::string_view key;     // json --field key=..., or sluiced's logged key
  std::string_view policy;  // sluiced
  std::array<std::string_view, KeySpec::kMaxParts> parts{};  // header parts, by spec index
};

struct LogParserOptions {
  LogFormat format = LogFormat::kCombined;
  // The key: spec parts, or nullopt for the format's own key (json: LogFields::key; sluiced:
  // the logged key; combined/common: ip).
  std::optional<KeySpec> key;
  LogFields fields;    // json
  std::string policy;  // sluiced: only this policy's lines (empty: all)
};

class LogParser {
 public:
  // Errors: a key part the format cannot have (common: headers; combined: headers other than
  // referer and user-agent; sluiced: anything but ip and ip/64), --key with json's key field.
  static absl::StatusOr<LogParser> Create(LogParserOptions options);

  enum class Result : std::uint8_t { kOk, kMalformed, kSkipped, kRefused };
  // Parses `line` (without its newline). kMalformed: `why` says what is wrong (a static
  // string). kSkipped: a well-formed line the replay leaves out (sluiced: another policy).
  // kRefused: a well-formed line whose request sluiced would answer with a 400 before any
  // policy, or that is no request at all; `why` says which.
  Result Parse(std::string_view line, LogLine& out, const char*& why);

  // Renders the key of a parsed line into `key` as sluiced's decision log renders keys
  // ("ip=192.0.2.1 path=/login"), or the format's own key as it is. False: the line lacks a
  // part (`missing` names it).
  bool BuildKey(const LogLine& line, std::string& key, const char*& missing);

  [[nodiscard]] const LogParserOptions& options() const { return options_; }
  // The key as the report names it ("ip", "[ip, path]", "field client_ip", "logged key").
  [[nodiscard]] std::string KeyName() const;

 private:
  explicit LogParser(LogParserOptions options) : options_(std::move(options)) {}
  Result ParseClf(std::string_view line, LogLine& out, const char*& why);
  Result ParseJson(std::string_view line, LogLine& out, const char*& why);
  Result ReadClfRequest(std::string_view request, LogLine& out, const char*& why);

  LogParserOptions options_;
  // JSON: wanted field names and where their values go.
  struct Wanted {
    std::string name;
    int slot = 0;
  };
  std::vector<Wanted> wanted_;
  std::vector<std::string> scratch_;  // per slot: unescaped values
  // combined: which header each header part reads (0 referer, 1 user-agent).
  std::array<std::uint8_t, KeySpec::kMaxParts> clf_header_{};
  RequestReader request_;
  // The last CLF time text and its value: a log's lines share their second in long runs.
  char last_time_[32] = {};
  std::int64_t last_time_ns_ = 0;
  bool has_last_time_ = false;  // else the cache is empty (26 NULs must not match it)
};

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_LOG_FORMAT_H_
