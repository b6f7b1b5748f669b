// The smallest useful embedding: one policy, a few clients, a steady clock.
#include <sluice/sluice.h>

#include <chrono>
#include <cstdio>

int main() {
  sluice::LimiterOptions options;
  options.capacity = 100'000;  // keys tracked at once; 16 bytes each, allocated now
  options.policies.push_back({"per-client", *sluice::Rate::Parse("4/s"), /*burst=*/4});
  auto limiter = sluice::Limiter::Create(options);
  if (!limiter.ok()) {
    std::fprintf(stderr, "config error: %s\n", limiter.status().ToString().c_str());
    return 1;
  }
  const sluice::PolicyId policy = *(*limiter)->FindPolicy("per-client");

  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  int admitted = 0;
  for (int i = 0; i < 6; ++i) {
    const sluice::Decision d = (*limiter)->Check(policy, "client-42", now);
    std::printf("request %d: %s remaining=%lld retry_after=%lldms\n", i + 1,
                d.allowed ? "allowed" : "denied", static_cast<long long>(d.remaining),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(d.retry_after).count()));
    admitted += d.allowed ? 1 : 0;
  }
  // A burst of 4 at one instant: exactly four admitted.
  return admitted == 4 ? 0 : 1;
}
