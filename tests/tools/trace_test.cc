#include "sim/trace.h"

#include <gtest/gtest.h>

#include <sstream>

namespace sluice::sim {
namespace {

TEST(TraceTest, ParsesRecordsAndKeysWithCommas) {
  auto r = ParseTraceLine("1500,10.0.0.1,2", 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->t_ns, 1500);
  EXPECT_EQ(r->key, "10.0.0.1");
  EXPECT_EQ(r->cost, 2u);
  auto commas = ParseTraceLine("7,a,b,c,1\r", 2);
  ASSERT_TRUE(commas.ok());
  EXPECT_EQ(commas->key, "a,b,c");
  EXPECT_TRUE(IsTraceHeader("t_ns,key,cost"));
  EXPECT_FALSE(IsTraceHeader("1,t_ns,1"));
}

TEST(TraceTest, ErrorsNameTheLine) {
  for (const char* bad : {"", "1,2", "x,k,1", "-5,k,1", "1,k,x", "1,k,-1"}) {
    auto r = ParseTraceLine(bad, 42);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("trace line 42"), std::string_view::npos) << bad;
  }
}

TEST(TraceTest, WritesTheDecisionsFormat) {
  std::ostringstream out;
  Decision d;
  d.allowed = false;
  d.remaining = 0;
  d.retry_after = std::chrono::nanoseconds(250);
  d.reset_after = std::chrono::nanoseconds(1000);
  WriteDecision(out, TraceRecord{5, "k", 1}, d);
  EXPECT_EQ(out.str(), "5,k,1,0,0,250,1000\n");
}

}  // namespace
}  // namespace sluice::sim
