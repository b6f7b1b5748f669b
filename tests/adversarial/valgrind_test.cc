// valgrind-clean startup and shutdown: the release sluiced under memcheck starts, listens,
// answers an admitted request, a denied one and GET /metrics, stops on SIGTERM and exits 0,
// with no memcheck error and no definitely or indirectly lost block. No suppression file:
// the kernel's writes into provided receive buffers, which memcheck cannot see, are declared
// where they happen (VALGRIND_MAKE_MEM_DEFINED in net/server/src/ring_loop.cc).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "adversarial.h"
#include "harness.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

constexpr int kValgrindErrorExit = 99;

bool HaveValgrind() { return std::system("valgrind --version >/dev/null 2>&1") == 0; }

TEST(ValgrindTest, StartupServingAndShutdownAreMemcheckClean) {
#ifdef SLUICE_SANITIZER_BUILD
  GTEST_SKIP() << "sluiced is sanitizer-built here; valgrind runs the release build";
#endif
  if (!HaveValgrind()) GTEST_SKIP() << "valgrind is not installed (tools/install-deps.sh)";
  char log_path[] = "/tmp/sluiced-valgrind-XXXXXX";
  const int fd = mkstemp(log_path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  StartOptions options;
  options.wrapper = {"valgrind", "--tool=memcheck",
                     // Threads take turns fairly: a shard's wait never starves the main thread.
                     "--fair-sched=yes", "--error-exitcode=" + std::to_string(kValgrindErrorExit),
                     "--leak-check=full", "--show-leak-kinds=definite,indirect",
                     "--errors-for-leak-kinds=definite,indirect",
                     "--log-file=" + std::string(log_path)};
  options.startup_timeout = 120s;
  {
    Sluiced server(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 2\n"
        "table: {capacity: 4096, when_full: evict}\n"
        "policies:\n  - {name: per-key, key: 'header:x-key', rate: 1/h, burst: 1}\n",
        {}, options);
    std::ifstream in(log_path);
    const std::string early((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (server.io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring";
    ASSERT_TRUE(server.ok()) << server.output() << early;

    const std::string request = Request("/", "x-key: vg\r\n");
    Client c(server.port(), 30s);
    ASSERT_TRUE(c.connected());
    for (const int status : {200, 429}) {  // admitted, then denied
      ASSERT_TRUE(c.Send(request));
      const auto r = c.Read();
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, status);
    }
    Client admin(server.admin_port(), 30s);
    ASSERT_TRUE(admin.Send(Request("/metrics")));
    const auto metrics = admin.Read();
    ASSERT_TRUE(metrics.has_value());
    EXPECT_EQ(metrics->status, 200);
    EXPECT_EQ(MetricSum(metrics->body, "sluice_requests_total{outcome=\"denied\"}"), 1u);

    server.Signal(SIGTERM);
    const auto code = server.Wait(120s);
    ASSERT_TRUE(code.has_value()) << "no exit within 120 s of SIGTERM";
    std::ifstream log(log_path);
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_EQ(*code, 0) << (*code == kValgrindErrorExit ? "memcheck reported errors\n" : "")
                        << text;
    EXPECT_NE(text.find("ERROR SUMMARY: 0 errors"), std::string::npos) << text;
    // Either every block was freed, or the leak summary shows none lost.
    const bool all_freed = text.find("All heap blocks were freed") != std::string::npos;
    EXPECT_TRUE(all_freed || text.find("definitely lost: 0 bytes") != std::string::npos) << text;
    EXPECT_TRUE(all_freed || text.find("indirectly lost: 0 bytes") != std::string::npos) << text;
    const auto summary = text.find("HEAP SUMMARY");
    std::printf(
        "[valgrind] exit %d; %s\n", *code,
        summary == std::string::npos ? "no heap summary" : text.substr(summary, 160).c_str());
  }
  std::remove(log_path);
}

}  // namespace
}  // namespace sluice::e2e
