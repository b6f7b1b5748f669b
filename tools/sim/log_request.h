// What sluiced makes of a logged request: the method checked and the target's path cut out and
// normalised by net/http's own functions (sluice/net/http/http_target.h: IsValidMethod,
// RawPathOfTarget, NormalisePath), so that `--key path` keys a log as sluiced keys requests
// ("/a/./b", "//a/b" and "/%61/b" are one key, "/a/b") and a request sluiced would refuse
// before any policy (answer 400: `%zz`, `%00`, ".." above the root, a '#', a lower-case
// method) is known as such. The forms follow sluiced's request parser: origin-form and
// absolute-form targets by their path, "*" for OPTIONS, CONNECT's authority as it is.
//
// Access logs escape what they write: nginx writes '"', '\' and bytes outside visible ASCII
// as \xHH, Apache \" and \\ and C escapes. A target holding a backslash is unescaped first, so
// the bytes normalised are the ones the client sent (a raw byte outside visible ASCII is one
// sluiced refuses). What a log cannot show (the URI length limit, headers sluiced would refuse)
// is not checked.
#ifndef SLUICE_TOOLS_SIM_LOG_REQUEST_H_
#define SLUICE_TOOLS_SIM_LOG_REQUEST_H_

#include <string>
#include <string_view>

namespace sluice::sim {

// METHOD and TARGET of a logged request line "METHOD TARGET[ VERSION]". False when the text is
// not one (nginx logs "-" or the bytes it got for a connection that sent no HTTP request).
bool SplitRequestLine(std::string_view request, std::string_view& method, std::string_view& target);

// Reads targets one after the other, reusing its scratch (allocation-free once warm).
class RequestReader {
 public:
  // `method` may be empty (a JSON log without one: not checked). `log_escaped`: the target is
  // written with nginx's or Apache's escapes (combined and common formats). True: `path` is the
  // path sluiced's policies see (a view of `target` or of this reader's scratch, valid until
  // the next call). False: sluiced would answer 400; `why` says why (a static string).
  bool Read(std::string_view method, std::string_view target, bool log_escaped,
            std::string_view& path, const char*& why);

 private:
  std::string unescaped_;
  std::string normalised_;
};

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_LOG_REQUEST_H_
