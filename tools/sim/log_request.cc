#include "sim/log_request.h"

#include "sluice/net/http/http_target.h"

namespace sluice::sim {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// nginx's \xHH and Apache's \" \\ \xhh \b \n \r \t \v undone into `out`. A backslash that
// starts none of these is kept as it is.
void UndoLogEscapes(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out.push_back(text[i]);
      continue;
    }
    const char e = text[i + 1];
    if (e == 'x' && i + 3 < text.size() && HexValue(text[i + 2]) >= 0 &&
        HexValue(text[i + 3]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 2]) * 16 + HexValue(text[i + 3])));
      i += 3;
      continue;
    }
    char c = 0;
    switch (e) {
      case '"':
      case '\\':
        c = e;
        break;
      case 'b':
        c = '\b';
        break;
      case 'n':
        c = '\n';
        break;
      case 'r':
        c = '\r';
        break;
      case 't':
        c = '\t';
        break;
      case 'v':
        c = '\v';
        break;
      default:
        out.push_back('\\');
        continue;
    }
    out.push_back(c);
    ++i;
  }
}

}  // namespace

bool SplitRequestLine(std::string_view request, std::string_view& method,
                      std::string_view& target) {
  const std::size_t sp = request.find(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  std::string_view rest = request.substr(sp + 1);
  rest = rest.substr(0, rest.find(' '));
  if (rest.empty()) return false;
  method = request.substr(0, sp);
  target = rest;
  return true;
}

bool RequestReader::Read(std::string_view method, std::string_view target, bool log_escaped,
                         std::string_view& path, const char*& why) {
  if (!method.empty() && !net::IsValidMethod(method)) {
    why = "sluiced refuses the method (400: only A-Z, '-' and '_')";
    return false;
  }
  path = {};
  if (target.empty()) return true;  // nothing more to check
  if (log_escaped && target.find('\\') != std::string_view::npos) {
    UndoLogEscapes(target, unescaped_);
    target = unescaped_;
  }
  for (const char c : target) {
    if (c < 0x21 || c > 0x7E) {
      why = "sluiced refuses the target (400: a byte outside visible ASCII)";
      return false;
    }
  }
  if (target == "*") {  // asterisk-form
    if (!method.empty() && method != "OPTIONS") {
      why = "sluiced refuses the target (400: '*' is for OPTIONS only)";
      return false;
    }
    path = target;
    return true;
  }
  if (method == "CONNECT" && target.front() != '/') {  // authority-form
    if (!net::IsValidAuthority(target, true)) {
      why = "sluiced refuses the target (400: a bad CONNECT authority)";
      return false;
    }
    path = target;
    return true;
  }
  std::string_view raw;
  if (!net::RawPathOfTarget(target, raw)) {
    why = "sluiced refuses the target (400: not a path or an http URI, or a '#')";
    return false;
  }
  if (normalised_.size() < raw.size()) normalised_.resize(raw.size());
  const net::NormalisedPath n = net::NormalisePath(raw, normalised_.data(), normalised_.size());
  if (n.status != net::NormalisedPath::Status::kOk) {
    why =
        "sluiced refuses the path (400 bad_path: a bad %-escape, an encoded control byte, or "
        "'..' above the root)";
    return false;
  }
  path = n.path;
  return true;
}

}  // namespace sluice::sim
