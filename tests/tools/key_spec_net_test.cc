// sluice-sim's key spec parser (tools/sim/key_spec.h) accepts exactly the spellings sluiced's
// config accepts (KeyPart::Parse in net/), and reads them alike: the lab keys a log as the
// server would key its requests.
#include <gtest/gtest.h>

#include <string>

#include "sim/key_spec.h"
#include "sluice/net/config/config.h"

namespace sluice::sim {
namespace {

TEST(KeySpecNetTest, SameSpellingsAsSluicedConfig) {
  for (const char* text : {"ip",
                           "ip/64",
                           "path",
                           "method",
                           "header:x-api-key",
                           "header:X-Api-Key",
                           "header:a!#$%&",
                           "header:'*+-.^_`|~",
                           "header:",
                           "header:a b",
                           "header:a:b",
                           "header:a/b",
                           "header:é",
                           "IP",
                           "Ip",
                           "ip/48",
                           "ip/",
                           "ip ",
                           " ip",
                           "paths",
                           "host",
                           "header",
                           "header:x\t",
                           "method:GET",
                           "",
                           "header:"
                           "\x7f"}) {
    const auto sim = KeyPartSpec::Parse(text);
    const auto net = net::KeyPart::Parse(text);
    ASSERT_EQ(sim.ok(), net.ok()) << "'" << text << "': sim " << sim.status() << ", sluiced "
                                  << net.status();
    if (!sim.ok()) continue;
    EXPECT_EQ(sim->ToString(), net->ToString()) << text;
    EXPECT_EQ(static_cast<int>(sim->kind), static_cast<int>(net->kind)) << text;
    EXPECT_EQ(sim->header, net->header) << text;
  }
}

}  // namespace
}  // namespace sluice::sim
