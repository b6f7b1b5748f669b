// Upstream failures to statuses (failure.h): 502 reached-and-failed, 504 too slow, 503 nobody.
#include "sluice/net/proxy/failure.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sluice::net {
namespace {

TEST(UpstreamFailureTest, EachCauseHasItsStatus) {
  EXPECT_EQ(StatusFor(UpstreamCause::kRefused), 502);
  EXPECT_EQ(StatusFor(UpstreamCause::kReset), 502);
  EXPECT_EQ(StatusFor(UpstreamCause::kMalformed), 502);
  EXPECT_EQ(StatusFor(UpstreamCause::kConnectTimeout), 504);
  EXPECT_EQ(StatusFor(UpstreamCause::kTimeout), 504);
  EXPECT_EQ(StatusFor(UpstreamCause::kNoServer), 503);
}

TEST(UpstreamFailureTest, LabelsAreDistinctAndStable) {
  std::set<std::string> labels;
  for (std::size_t i = 0; i < kUpstreamCauses; ++i) {
    labels.emplace(LabelFor(static_cast<UpstreamCause>(i)));
  }
  EXPECT_EQ(labels.size(), kUpstreamCauses);
  EXPECT_EQ(LabelFor(UpstreamCause::kConnectTimeout), "connect_timeout");
  EXPECT_EQ(LabelFor(UpstreamCause::kNoServer), "no_server");
}

}  // namespace
}  // namespace sluice::net
