// The command line over a config (DESIGN.md): --listen, --admin, --threads, and --rate,
// --burst and --key together, which replace the policies with one named "cli".
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "sections.h"
#include "sluice/policy.h"

namespace sluice::net {

absl::Status ApplyOverrides(const CliOverrides& overrides, ServerConfig& config) {
  ServerConfig next = config;
  std::vector<std::string> errors;
  const auto error = [&](std::string_view flag, absl::string_view message) {
    errors.push_back(absl::StrCat("--", Absl(flag), ": ", message));
  };
  if (overrides.listen) {
    auto a = ListenAddress::Parse(*overrides.listen);
    if (a.ok()) {
      next.listen = *std::move(a);
    } else {
      error("listen", a.status().message());
    }
  }
  if (overrides.admin) {
    auto a = ListenAddress::Parse(*overrides.admin);
    if (a.ok()) {
      next.admin = *std::move(a);
    } else {
      error("admin", a.status().message());
    }
  }
  if (overrides.threads) {
    if (*overrides.threads == "auto") {
      next.threads = 0;
    } else {
      const auto n = ParseDecimal(*overrides.threads);
      if (!n || *n < 1 || *n > kMaxThreads) {
        error("threads", absl::StrCat(Quoted(*overrides.threads), " is not auto or a number in 1..",
                                      kMaxThreads));
      } else {
        next.threads = static_cast<unsigned>(*n);
      }
    }
  }
  const bool any_policy = overrides.rate || overrides.burst || overrides.key;
  if (any_policy) {
    if (!overrides.rate || !overrides.burst || !overrides.key) {
      std::vector<std::string> absent;
      if (!overrides.rate) absent.emplace_back("--rate");
      if (!overrides.burst) absent.emplace_back("--burst");
      if (!overrides.key) absent.emplace_back("--key");
      errors.push_back(absl::StrCat("--rate, --burst and --key go together: missing ",
                                    absl::StrJoin(absent, ", ")));
    } else {
      ServerPolicy p;
      p.name = "cli";
      bool ok = true;
      auto rate = Rate::Parse(*overrides.rate);
      if (rate.ok()) {
        p.rate = *rate;
      } else {
        error("rate", rate.status().message());
        ok = false;
      }
      if (*overrides.burst == 0) {
        error("burst", "must be at least 1");
        ok = false;
      }
      p.burst = *overrides.burst;
      const std::vector<absl::string_view> specs =
          absl::StrSplit(Absl(*overrides.key), ',', absl::SkipWhitespace());
      if (specs.empty()) {
        error("key", "at least one part is needed (e.g. ip)");
        ok = false;
      } else if (specs.size() > kMaxKeyParts) {
        error("key", absl::StrCat(specs.size(), " parts, at most ", kMaxKeyParts));
        ok = false;
      }
      for (const absl::string_view spec : specs) {
        const absl::string_view trimmed = absl::StripAsciiWhitespace(spec);
        auto part = KeyPart::Parse(std::string_view(trimmed.data(), trimmed.size()));
        if (part.ok()) {
          p.key.push_back(*std::move(part));
        } else {
          error("key", part.status().message());
          ok = false;
        }
      }
      if (ok) {
        auto made = Policy::Make(PolicyConfig{p.name, p.rate, p.burst});
        if (!made.ok()) {
          errors.emplace_back(made.status().message());
          ok = false;
        }
      }
      if (ok) next.policies = {std::move(p)};
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  config = std::move(next);
  return absl::OkStatus();
}

}  // namespace sluice::net
