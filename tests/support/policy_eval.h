// Shared helpers of the PolicySet::Evaluate() tests (tests/net/policy/): a peer address as the
// sockaddr a shard passes, a request filled in by hand, and a policy set with its per-shard
// scratch. Header-only; include after gtest.
#ifndef SLUICE_TESTS_SUPPORT_POLICY_EVAL_H_
#define SLUICE_TESTS_SUPPORT_POLICY_EVAL_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"

namespace sluice::testing {

// A connection's peer address, as the server hands it to Evaluate().
struct Peer {
  sockaddr_storage storage{};
  [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// An IPv4 ("10.0.0.1") or IPv6 ("2001:db8::1") peer, by the form of its text.
inline Peer PeerOf(const char* ip, std::uint16_t port = 1234) {
  Peer p;
  if (std::string_view(ip).find(':') == std::string_view::npos) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, ip, &a.sin_addr), 1) << ip;
    std::memcpy(&p.storage, &a, sizeof(a));
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, ip, &a.sin6_addr), 1) << ip;
    std::memcpy(&p.storage, &a, sizeof(a));
  }
  return p;
}

// Fills `r` as the parser would for an origin-form `target` that is already normalised: its
// path is the part before '?'. The views point into the arguments, which must outlive `r`.
inline void FillRequest(net::HttpRequest& r, std::string_view method, std::string_view target,
                        std::initializer_list<net::HttpHeader> headers) {
  r.method = method;
  r.target = target;
  r.path = target.substr(0, target.find('?'));
  r.header_count = 0;
  for (const net::HttpHeader& h : headers) r.headers[r.header_count++] = h;
}

// A config from YAML text (an error fails the test and leaves a default config).
inline net::ServerConfig ConfigFromYaml(std::string_view yaml) {
  auto config = net::ParseConfig(yaml, "t.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : net::ServerConfig{};
}

// A PolicySet plus the per-shard scratch, evaluating at `kNow` unless told otherwise.
class EvalHarness {
 public:
  static constexpr std::chrono::nanoseconds kNow = std::chrono::seconds(1'000);

  explicit EvalHarness(const net::ServerConfig& config) {
    auto set = net::PolicySet::Build(config);
    EXPECT_TRUE(set.ok()) << set.status();
    if (set.ok()) Swap(*std::move(set));
  }
  const net::EvalOutcome& Eval(const net::HttpRequest& r, const Peer& peer,
                               std::chrono::nanoseconds now = kNow) {
    set_->Evaluate(r, peer.get(), now, *scratch_, outcome_);
    return outcome_;
  }
  // The key the reported policy decided under, rendered.
  std::string Key(const net::HttpRequest& r, const Peer& peer) {
    const net::EvalOutcome& o = Eval(r, peer);
    char text[256];
    return std::string(text, net::FormatKey(o.key, text, sizeof(text)));
  }
  // Admitted requests in a row before the first denial (at most `limit`).
  int AdmittedInARow(const net::HttpRequest& r, const Peer& peer, int limit = 100) {
    for (int i = 0; i < limit; ++i) {
      if (!Eval(r, peer).allowed) return i;
    }
    return limit;
  }
  net::PolicySet& set() { return *set_; }
  void Swap(std::unique_ptr<net::PolicySet> set) {
    set_ = std::move(set);
    scratch_ = std::make_unique<net::KeyScratch>(set_->scratch_bytes());
  }

 private:
  std::unique_ptr<net::PolicySet> set_;
  std::unique_ptr<net::KeyScratch> scratch_;
  net::EvalOutcome outcome_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_POLICY_EVAL_H_
