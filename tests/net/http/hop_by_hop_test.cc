// The hop-by-hop classifier, table-driven: roles by name in any case, Connection options
// (repeated fields, OWS, empty members, the cap), what is removed at the hop, Host never
// removable, TE: trailers, and which trailer fields may cross.
#include "sluice/net/http/hop_by_hop.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::net {
namespace {

TEST(HopByHopTest, RolesByNameInAnyCase) {
  struct Case {
    std::string_view name;
    FieldRole role;
  };
  const std::vector<Case> cases = {
      {"Connection", FieldRole::kHopByHop},
      {"KEEP-ALIVE", FieldRole::kHopByHop},
      {"proxy-connection", FieldRole::kHopByHop},
      {"Trailer", FieldRole::kHopByHop},
      {"te", FieldRole::kTe},
      {"TE", FieldRole::kTe},
      {"Upgrade", FieldRole::kUpgrade},
      {"content-length", FieldRole::kFraming},
      {"Transfer-Encoding", FieldRole::kFraming},
      {"HOST", FieldRole::kHost},
      {"x-forwarded-for", FieldRole::kForwardedFor},
      {"X-Real-IP", FieldRole::kRealIp},
      {"X-Forwarded-Proto", FieldRole::kForwardedProto},
      {"Expect", FieldRole::kExpect},
      {"Trailers", FieldRole::kEndToEnd},
      {"Connections", FieldRole::kEndToEnd},
      {"X-Forwarded-Host", FieldRole::kEndToEnd},
      {"Accept", FieldRole::kEndToEnd},
      {"", FieldRole::kEndToEnd},
      {"t", FieldRole::kEndToEnd},
  };
  for (const Case& c : cases) EXPECT_EQ(RoleOf(c.name), c.role) << c.name;
}

TEST(HopByHopTest, ConnectionOptionsOverAllFields) {
  const std::vector<HttpHeader> headers = {
      {"Connection", " keep-alive , X-Secret,, ,"}, {"Host", "a"},     {"connection", "Upgrade"},
      {"CONNECTION", "x-secret, X-Other"},          {"X-Secret", "1"},
  };
  ConnectionOptions options;
  ASSERT_TRUE(options.Collect(headers.data(), headers.size()));
  EXPECT_EQ(options.size(), 4u);  // keep-alive, X-Secret, Upgrade, X-Other (no duplicates)
  EXPECT_TRUE(options.keep_alive());
  EXPECT_TRUE(options.upgrade());
  EXPECT_FALSE(options.close());
  EXPECT_TRUE(options.Lists("x-secret"));
  EXPECT_TRUE(options.Lists("X-OTHER"));
  EXPECT_FALSE(options.Lists("X-Secre"));
  EXPECT_FALSE(options.Lists(""));
  EXPECT_FALSE(options.Lists("Host"));
}

TEST(HopByHopTest, TooManyOptionsIsRefused) {
  std::string list;
  for (std::size_t i = 0; i <= ConnectionOptions::kMaxOptions; ++i) {
    list += "o" + std::to_string(i) + ",";
  }
  const std::vector<HttpHeader> headers = {{"Connection", list}};
  ConnectionOptions options;
  EXPECT_FALSE(options.Collect(headers.data(), headers.size()));
  // The same option repeated is one option.
  std::string same;
  for (int i = 0; i < 100; ++i) same += "close, ";
  const std::vector<HttpHeader> repeated = {{"Connection", same}};
  EXPECT_TRUE(options.Collect(repeated.data(), repeated.size()));
  EXPECT_TRUE(options.close());
  EXPECT_EQ(options.size(), 1u);
}

TEST(HopByHopTest, RemovedAtTheHop) {
  const std::vector<HttpHeader> headers = {{"Connection", "X-A, Host, Content-Type, Expect"}};
  ConnectionOptions options;
  ASSERT_TRUE(options.Collect(headers.data(), headers.size()));
  struct Case {
    std::string_view name;
    bool removed;
  };
  const std::vector<Case> cases = {
      {"Connection", true},
      {"Keep-Alive", true},
      {"Proxy-Connection", true},
      {"TE", true},
      {"Trailer", true},
      {"Upgrade", true},
      {"Content-Length", true},
      {"Transfer-Encoding", true},
      {"X-Forwarded-For", true},
      {"X-Real-IP", true},
      {"X-Forwarded-Proto", true},
      {"x-a", true},
      {"Content-Type", true},  // listed
      {"Expect", true},        // listed
      {"Host", false},         // listed, but never removable
      {"Accept", false},
      {"X-B", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RemovedAtHop(RoleOf(c.name), c.name, options), c.removed) << c.name;
  }
  ConnectionOptions none;
  ASSERT_TRUE(none.Collect(nullptr, 0));
  EXPECT_FALSE(RemovedAtHop(RoleOf("Expect"), "Expect", none));
}

TEST(HopByHopTest, TeTrailers) {
  EXPECT_TRUE(TeListsTrailers("trailers"));
  EXPECT_TRUE(TeListsTrailers("gzip;q=0.5, Trailers"));
  EXPECT_TRUE(TeListsTrailers(" , trailers ;q=1"));
  EXPECT_FALSE(TeListsTrailers("gzip"));
  EXPECT_FALSE(TeListsTrailers(""));
  EXPECT_FALSE(TeListsTrailers("trailersx"));
}

TEST(HopByHopTest, ForwardableTrailers) {
  for (const std::string_view name : {"Content-Length",
                                      "transfer-encoding",
                                      "Host",
                                      "Authorization",
                                      "Proxy-Authorization",
                                      "Cookie",
                                      "Set-Cookie",
                                      "Trailer",
                                      "TE",
                                      "Connection",
                                      "Content-Type",
                                      "Content-Encoding",
                                      "Content-Range",
                                      "Cache-Control",
                                      "Expect",
                                      "Location",
                                      "If-None-Match",
                                      "Range",
                                      "WWW-Authenticate",
                                      "X-Forwarded-For",
                                      "Upgrade"}) {
    EXPECT_FALSE(ForwardableTrailer(name)) << name;
  }
  for (const std::string_view name : {"X-Checksum", "Server-Timing", "grpc-status", "Digest"}) {
    EXPECT_TRUE(ForwardableTrailer(name)) << name;
  }
}

}  // namespace
}  // namespace sluice::net
