// GET /metrics: the Prometheus text exposition format (version 0.0.4).
#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server_impl.h"

namespace sluice::net {
namespace {

std::string Escape(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  absl::StrAppend(&out, "# HELP ", std::string(name), " ", std::string(help), "\n# TYPE ",
                  std::string(name), " ", std::string(type), "\n");
}

void Sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  absl::StrAppend(&out, std::string(name));
  if (!labels.empty()) absl::StrAppend(&out, "{", std::string(labels), "}");
  absl::StrAppend(&out, " ", value, "\n");
}

std::string Seconds(std::int64_t ns) { return absl::StrCat(static_cast<double>(ns) / 1e9); }

}  // namespace

void UpstreamTotals::Add(const UpstreamMetrics& m) noexcept {
  for (std::size_t i = 0; i < 5; ++i) answers[i] += m.answers[i].Get();
  for (std::size_t i = 0; i < kUpstreamCauses; ++i) errors[i] += m.errors[i].Get();
  aborted += m.aborted.Get();
  retries += m.retries.Get();
  ejections += m.ejections.Get();
  opened += m.opened.Get();
  reused += m.reused.Get();
  for (std::size_t i = 0; i <= kLatencyBuckets; ++i) latency[i] += m.latency[i].Get();
  latency_sum_ns += m.latency_sum_ns.Get();
}

// Proxy mode's families, per upstream (by name, across reloads); gauges from the running
// config only.
void Server::Impl::UpstreamMetricsText(std::string& out) const {
  std::map<std::string, UpstreamTotals> totals = retired_upstreams_;
  for (const auto& r : runtimes_) {
    for (std::size_t u = 0; u < r->upstream_count; ++u) {
      UpstreamTotals& t = totals[r->proxy->upstreams()[u].config.name];
      for (std::size_t s = 0; s < r->shards; ++s) t.Add(r->upstream(s, u));
    }
  }
  if (totals.empty()) return;
  const auto label = [](const std::string& name) {
    return absl::StrCat("upstream=\"", Escape(name), "\"");
  };
  Family(out, "sluice_upstream_responses_total", "counter",
         "Answers relayed from an upstream, by status class.");
  for (const auto& [name, t] : totals) {
    for (std::size_t c = 0; c < 5; ++c) {
      Sample(out, "sluice_upstream_responses_total",
             absl::StrCat(label(name), ",code=\"", c + 1, "xx\""), t.answers[c]);
    }
  }
  Family(out, "sluice_upstream_errors_total", "counter",
         "Requests sluiced answered itself (502, 503, 504) or cut mid-answer, by cause.");
  for (const auto& [name, t] : totals) {
    for (std::size_t c = 0; c < kUpstreamCauses; ++c) {
      const auto cause = static_cast<UpstreamCause>(c);
      Sample(out, "sluice_upstream_errors_total",
             absl::StrCat(label(name), ",status=\"", StatusFor(cause), "\",cause=\"",
                          std::string(LabelFor(cause)), "\""),
             t.errors[c]);
    }
  }
  const auto counter = [&](const char* family, const char* help, std::uint64_t UpstreamTotals::*m) {
    Family(out, family, "counter", help);
    for (const auto& [name, t] : totals) Sample(out, family, label(name), t.*m);
  };
  counter("sluice_upstream_aborted_total",
          "Client connections cut because an upstream failed after the answer began.",
          &UpstreamTotals::aborted);
  counter("sluice_upstream_retries_total", "Requests sent again after a failed attempt.",
          &UpstreamTotals::retries);
  counter("sluice_upstream_ejections_total",
          "Servers left out after eject.failures consecutive failures.",
          &UpstreamTotals::ejections);
  counter("sluice_upstream_connections_opened_total", "Upstream connections made.",
          &UpstreamTotals::opened);
  counter("sluice_upstream_connections_reused_total",
          "Requests sent on a pooled keep-alive connection.", &UpstreamTotals::reused);
  Family(out, "sluice_upstream_latency_seconds", "histogram",
         "From forwarding a request to the end of its relayed answer.");
  for (const auto& [name, t] : totals) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kLatencyBuckets; ++b) {
      cumulative += t.latency[b];
      Sample(out, "sluice_upstream_latency_seconds_bucket",
             absl::StrCat(label(name), ",le=\"", Seconds(kLatencyBoundsNs[b]), "\""), cumulative);
    }
    cumulative += t.latency[kLatencyBuckets];
    Sample(out, "sluice_upstream_latency_seconds_bucket", absl::StrCat(label(name), ",le=\"+Inf\""),
           cumulative);
    absl::StrAppend(&out, "sluice_upstream_latency_seconds_sum{", label(name), "} ",
                    Seconds(static_cast<std::int64_t>(t.latency_sum_ns)), "\n");
    Sample(out, "sluice_upstream_latency_seconds_count", label(name), cumulative);
  }
  const Runtime& rt = *runtimes_.back();
  const auto gauge = [&](const char* family, const char* help, Counter UpstreamMetrics::*m) {
    Family(out, family, "gauge", help);
    for (std::size_t u = 0; u < rt.upstream_count; ++u) {
      std::uint64_t v = 0;
      for (std::size_t s = 0; s < rt.shards; ++s) v += (rt.upstream(s, u).*m).Get();
      Sample(out, family, label(rt.proxy->upstreams()[u].config.name), v);
    }
  };
  gauge("sluice_upstream_connections_idle",
        "Pooled idle keep-alive connections (sampled every 250 ms).", &UpstreamMetrics::idle);
  gauge("sluice_upstream_connections_active",
        "Upstream connections carrying a request (sampled every 250 ms).",
        &UpstreamMetrics::active);
}

std::string Server::Impl::MetricsText() const {
  std::lock_guard<std::mutex> lock(control_mu_);
  const Runtime& rt = *runtimes_.back();
  std::string out;

  const auto sum = [&](auto member) {
    std::uint64_t total = 0;
    for (const auto& shard : shards) total += (shard->metrics().*member).Get();
    return total;
  };
  Family(out, "sluice_requests_total", "counter",
         "Requests answered by the data plane, by outcome.");
  Sample(out, "sluice_requests_total", "outcome=\"allowed\"", sum(&ShardMetrics::requests_allowed));
  Sample(out, "sluice_requests_total", "outcome=\"denied\"", sum(&ShardMetrics::requests_denied));
  Sample(out, "sluice_requests_total", "outcome=\"unmatched\"",
         sum(&ShardMetrics::requests_unmatched));

  // Per policy: the running config's counters plus those of retired configs, by name.
  std::map<std::string, PolicyTotals> totals = retired_totals_;
  for (const auto& r : runtimes_) {
    for (std::size_t p = 0; p < r->policies->size(); ++p) {
      PolicyTotals& t = totals[r->policies->policy(p).name];
      for (std::size_t s = 0; s < r->shards; ++s) {
        const PolicyMetrics& m = r->metrics(s, p);
        t.admitted += m.admitted.Get();
        t.denied += m.denied.Get();
        t.shadow_denied += m.shadow_denied.Get();
        t.missing_key += m.missing_key.Get();
        t.refunded += m.refunded.Get();
      }
    }
  }
  Family(out, "sluice_policy_decisions_total", "counter",
         "Decisions per policy: admitted, denied (enforcing), shadow_denied (would have denied), "
         "missing_key (denied by when_missing: deny; also counted in denied), refunded (admitted, "
         "then given back because a later enforcing policy denied the request).");
  for (const auto& [name, t] : totals) {
    const std::string policy = absl::StrCat("policy=\"", Escape(name), "\",decision=\"");
    Sample(out, "sluice_policy_decisions_total", policy + "admitted\"", t.admitted);
    Sample(out, "sluice_policy_decisions_total", policy + "denied\"", t.denied);
    Sample(out, "sluice_policy_decisions_total", policy + "shadow_denied\"", t.shadow_denied);
    Sample(out, "sluice_policy_decisions_total", policy + "missing_key\"", t.missing_key);
    Sample(out, "sluice_policy_decisions_total", policy + "refunded\"", t.refunded);
  }

  Family(out, "sluice_parse_errors_total", "counter",
         "Malformed requests answered with a 4xx/5xx and a close, by kind.");
  for (std::size_t k = 1; k < kParseErrorKinds; ++k) {
    std::uint64_t total = 0;
    for (const auto& shard : shards) total += shard->metrics().parse_errors[k].Get();
    Sample(out, "sluice_parse_errors_total",
           absl::StrCat("kind=\"", std::string(LabelFor(static_cast<ParseError>(k))), "\""), total);
  }
  Sample(out, "sluice_parse_errors_total", "kind=\"bad_body_framing\"",
         sum(&ShardMetrics::body_errors));
  {
    static constexpr std::pair<Refusal, const char*> kRefusals[] = {
        {Refusal::kAmbiguousKey, "ambiguous_key"}, {Refusal::kBadForwarded, "bad_forwarded"}};
    for (const auto& [refusal, label] : kRefusals) {
      std::uint64_t total = 0;
      for (const auto& shard : shards) {
        total += shard->metrics().refusals[static_cast<std::size_t>(refusal)].Get();
      }
      Sample(out, "sluice_parse_errors_total", absl::StrCat("kind=\"", label, "\""), total);
    }
  }

  Family(out, "sluice_forwarded_untrusted_total", "counter",
         "Requests from peers outside forwarded.trusted that carried a configured forwarded "
         "header (client_ip, uri or method); the headers were ignored.");
  Sample(out, "sluice_forwarded_untrusted_total", "", sum(&ShardMetrics::forwarded_untrusted));
  Family(out, "sluice_forwarded_client_missing_total", "counter",
         "Requests from trusted peers whose client_ip header gave no usable address for a "
         "policy that needed one (when_missing decided), by reason.");
  {
    static constexpr std::pair<ForwardedMissing, const char*> kReasons[] = {
        {ForwardedMissing::kAbsent, "absent"},
        {ForwardedMissing::kTooFewHops, "too_few_hops"},
        {ForwardedMissing::kInvalid, "invalid"}};
    for (const auto& [reason, label] : kReasons) {
      std::uint64_t total = 0;
      for (const auto& shard : shards) {
        total += shard->metrics().forwarded_missing[static_cast<std::size_t>(reason)].Get();
      }
      Sample(out, "sluice_forwarded_client_missing_total", absl::StrCat("reason=\"", label, "\""),
             total);
    }
  }

  struct PerShard {
    const char* name;
    const char* type;
    const char* help;
    Counter ShardMetrics::*member;
  };
  static constexpr PerShard kPerShard[] = {
      {"sluice_shard_requests_allowed_total", "counter", "Requests admitted, per shard.",
       &ShardMetrics::requests_allowed},
      {"sluice_shard_requests_denied_total", "counter", "Requests denied, per shard.",
       &ShardMetrics::requests_denied},
      {"sluice_connections_open", "gauge", "Open client connections.",
       &ShardMetrics::connections_open},
      {"sluice_connections_accepted_total", "counter", "Client connections accepted.",
       &ShardMetrics::connections_accepted},
      {"sluice_connections_refused_total", "counter",
       "Connections closed at accept: over connections_per_shard, or while stopping.",
       &ShardMetrics::connections_refused},
      {"sluice_accept_errors_total", "counter", "accept() failures such as EMFILE.",
       &ShardMetrics::accept_errors},
      {"sluice_header_timeouts_total", "counter",
       "Connections closed because a request head did not complete in time (slowloris).",
       &ShardMetrics::header_timeouts},
      {"sluice_idle_timeouts_total", "counter",
       "Connections closed for idleness, or for not reading answers.",
       &ShardMetrics::idle_timeouts},
      {"sluice_input_overflows_total", "counter",
       "Connections closed for sending far more than they read.", &ShardMetrics::input_overflows},
      {"sluice_buffer_exhausted_total", "counter",
       "Connections closed because the shard's connection-buffer budget was spent.",
       &ShardMetrics::buffer_exhausted},
      {"sluice_recv_enobufs_total", "counter",
       "Receives that found the provided-buffer ring empty (re-armed).",
       &ShardMetrics::recv_enobufs},
      {"sluice_recv_paused_total", "counter",
       "Times reading from a client stopped because its answers were not read.",
       &ShardMetrics::recv_paused},
      {"sluice_loop_passes_total", "counter", "io_uring loop passes (one submit each).",
       &ShardMetrics::loop_passes},
      {"sluice_completions_total", "counter", "io_uring completions handled.",
       &ShardMetrics::completions},
      {"sluice_decision_log_dropped_total", "counter",
       "Decision log records dropped because the queue was full.", &ShardMetrics::log_dropped},
      {"sluice_proxy_forwarded_total", "counter",
       "Proxy mode: admitted requests handed to an upstream.", &ShardMetrics::proxy_forwarded},
      {"sluice_proxy_no_route_total", "counter", "Proxy mode: requests no route matched (404).",
       &ShardMetrics::proxy_no_route},
      {"sluice_proxy_body_too_large_total", "counter",
       "Proxy mode: request bodies over limits.body_bytes (413).",
       &ShardMetrics::proxy_body_too_large},
      {"sluice_proxy_client_gone_total", "counter",
       "Proxy mode: clients that left before their answer was complete (upstream closed).",
       &ShardMetrics::proxy_client_gone},
  };
  for (const PerShard& f : kPerShard) {
    Family(out, f.name, f.type, f.help);
    for (std::size_t i = 0; i < shards.size(); ++i) {
      Sample(out, f.name, absl::StrCat("shard=\"", i, "\""),
             (shards[i]->metrics().*f.member).Get());
    }
  }

  const StateTable& table = rt.policies->limiter().table();
  const TableStats ts = table.Stats();
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  Family(out, "sluice_table_capacity_keys", "gauge", "Keys the state table can hold.");
  Sample(out, "sluice_table_capacity_keys", "", ts.capacity);
  Family(out, "sluice_table_memory_bytes", "gauge", "Memory of the state table (fixed).");
  Sample(out, "sluice_table_memory_bytes", "", ts.memory_bytes);
  Family(out, "sluice_table_occupied_slots", "gauge",
         "Slots holding a key, live or expired-but-not-reused.");
  Sample(out, "sluice_table_occupied_slots", "",
         ts.occupied < 0 ? 0 : static_cast<std::uint64_t>(ts.occupied));
  Family(out, "sluice_table_live_keys", "gauge", "Keys whose state still matters (TAT > now).");
  Sample(out, "sluice_table_live_keys", "",
         table.CountLive(std::chrono::duration_cast<std::chrono::nanoseconds>(now)));
  Family(out, "sluice_table_events_total", "counter",
         "State table events: installs, reuse of expired slots (lossless), evictions of live "
         "keys, and requests denied or allowed because a bucket was full.");
  Sample(out, "sluice_table_events_total", "event=\"install\"", ts.installs);
  Sample(out, "sluice_table_events_total", "event=\"reuse_expired\"", ts.reused_expired);
  Sample(out, "sluice_table_events_total", "event=\"evict\"", ts.evictions);
  Sample(out, "sluice_table_events_total", "event=\"full_deny\"", ts.full_denied);
  Sample(out, "sluice_table_events_total", "event=\"full_allow\"", ts.full_allowed);

  UpstreamMetricsText(out);

  Family(out, "sluice_config_generation", "gauge", "Generation of the running config.");
  Sample(out, "sluice_config_generation", "", rt.generation);
  Family(out, "sluice_config_reloads_total", "counter", "Config reloads, by result.");
  Sample(out, "sluice_config_reloads_total", "result=\"ok\"", reloads_ok_);
  Sample(out, "sluice_config_reloads_total", "result=\"error\"", reloads_failed_);
  return out;
}

}  // namespace sluice::net
