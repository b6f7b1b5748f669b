// The smuggling classes S1-S26 as data (tests/e2e/e2e_proxy_smuggling_test.cc runs them): each
// variant is the bytes a client sends, or the bytes an upstream answers, and the one outcome
// the proxy-mode contract allows (see the test's comment for the kinds).
#ifndef SLUICE_TESTS_E2E_PROXY_SMUGGLING_CASES_H_
#define SLUICE_TESTS_E2E_PROXY_SMUGGLING_CASES_H_

#include <ostream>
#include <string>
#include <vector>

namespace sluice::e2e {

enum class Kind {
  kRefused,     // (a)
  kForwarded,   // (b)
  kDenied,      // 429 from sluiced, the body never parsed as a request
  kBadGateway,  // the upstream's answer is refused: 502
  kNotPooled,   // the answer may go through (it is complete) or be a 502; never pooled
  kTruncated,   // 502, or the answer cut short with no terminator; never pooled
};

struct Case {
  std::string label;
  Kind kind = Kind::kRefused;
  std::string bytes;                   // client -> sluiced (request-side kinds)
  int status = 400;                    // kRefused: sluiced's answer; kNotPooled: the upstream's
  std::vector<int> answers;            // kForwarded: statuses in order; kRefused: answers first
  std::vector<std::string> forwarded;  // kForwarded, kDenied: each request the upstream gets
  std::string then;                    // kDenied: sent after the first answer was read
  std::string reply;                   // response side: the upstream's bytes
  bool head = false;                   // response side: the request is a HEAD
  bool close = false;                  // response side: the upstream closes after `reply`
  std::string extra;                   // response side: more fields of the client's request
};

struct ClassCases {
  std::string id;  // "S1"
  std::string routes;
  std::vector<Case> cases;
};

// gtest prints a class by its id.
void PrintTo(const ClassCases& c, std::ostream* os);

// Every class, in order.
std::vector<ClassCases> AllClasses();

}  // namespace sluice::e2e

#endif  // SLUICE_TESTS_E2E_PROXY_SMUGGLING_CASES_H_
