// A policy's `match:` as the config reads it, now that policies see normalised paths and
// strict methods (DESIGN.md "What a policy sees of a request"): case_insensitive parses, round
// trips through GET /config and shows in --check-config's summary; a path_prefix or method that
// no request could ever match is refused with its line and the spelling to use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "net/config/config_test_support.h"
#include "sluice/net/config/config.h"

namespace sluice::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string OneMatch(const std::string& match) {
  return "policies:\n  - name: p\n    match: " + match +
         "\n    key: path\n    rate: 1/s\n    burst: 1\n";
}

using testing_support::Errors;

TEST(MatchConfigTest, CaseInsensitiveParsesRoundTripsAndIsSummarised) {
  auto c = ParseConfig(OneMatch("{path_prefix: /Login, case_insensitive: true}"), "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->policies[0].match.case_insensitive);
  const std::string yaml = ToYaml(*c);
  EXPECT_THAT(yaml, HasSubstr("case_insensitive: true"));
  auto back = ParseConfig(yaml, "back");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->policies[0].match, c->policies[0].match);
  EXPECT_EQ(ToYaml(*back), yaml);
  EXPECT_THAT(Summary(*c), HasSubstr("policy p: * /Login* (any case), key path"));

  // The default is false and is not written out.
  auto plain = ParseConfig(OneMatch("{path_prefix: /Login}"), "t.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->policies[0].match.case_insensitive);
  EXPECT_THAT(ToYaml(*plain), ::testing::Not(HasSubstr("case_insensitive")));
  auto off = ParseConfig(OneMatch("{path_prefix: /Login, case_insensitive: false}"), "t.yaml");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->policies[0].match, plain->policies[0].match);
  // case_insensitive alone (any path, any case) is a valid, if pointless, match.
  EXPECT_TRUE(ParseConfig(OneMatch("{case_insensitive: true}"), "t.yaml").ok());
  EXPECT_THAT(Errors(OneMatch("{path_prefix: /a, case_insensitive: maybe}")),
              ElementsAre(HasSubstr("t.yaml:3: policy 'p' match case_insensitive: 'maybe' is not "
                                    "true or false")));
}

TEST(MatchConfigTest, PrefixesNoNormalisedPathStartsWithAreRefused) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"/api%2Fv1", "(use '/api/v1')"},
      {"/%61pi/", "(use '/api/')"},
      {"//api/", "(use '/api/')"},
      {"/a/./b", "(use '/a/b')"},
      {"/x/../api/", "(use '/api/')"},
      {"/a/../b", "(use '/b')"},
      {"/../x", ""},
      {"/a%00", ""},
  };
  for (const auto& [prefix, hint] : cases) {
    SCOPED_TRACE(prefix);
    const auto errors = Errors(OneMatch("{path_prefix: '" + std::string(prefix) + "'}"));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_THAT(errors[0], HasSubstr("t.yaml:3: policy 'p' match: path_prefix"));
    EXPECT_THAT(errors[0], HasSubstr("never matches: requests are matched by their decoded, "
                                     "normalised path"));
    EXPECT_THAT(errors[0], HasSubstr(hint));
  }
  // Still fine: names that start with dots, a final "." (it matches "/api/.well-known"), a
  // '%' that is not an escape.
  for (const std::string_view prefix :
       {"/.well-known/", "/api/.", "/api/..", "/a..b", "/100%", "/a%zz"}) {
    EXPECT_TRUE(ParseConfig(OneMatch("{path_prefix: '" + std::string(prefix) + "'}"), "t").ok())
        << prefix;
  }
}

TEST(MatchConfigTest, MethodsNoRequestCouldCarryAreRefused) {
  EXPECT_THAT(
      Errors(OneMatch("{method: post}")),
      ElementsAre(HasSubstr("never matches: HTTP methods are case-sensitive (use 'POST')")));
  for (const std::string_view method : {"Purge", "M1", "M.X"}) {
    EXPECT_THAT(Errors(OneMatch("{method: '" + std::string(method) + "'}")),
                ElementsAre(HasSubstr("never matches: sluiced accepts methods of upper-case "
                                      "letters, '-' and '_' only")))
        << method;
  }
  for (const std::string_view method : {"PURGE", "M-SEARCH", "VERSION_CONTROL"}) {
    EXPECT_TRUE(ParseConfig(OneMatch("{method: " + std::string(method) + "}"), "t").ok()) << method;
  }
}

}  // namespace
}  // namespace sluice::net
