// Versions, error strings, and the helpers the other c_api files share.
#include <cpuid.h>

#include <algorithm>
#include <cstring>

#include "c_api/handles.h"

namespace sluice::c_api {

void SetError(char* err, std::size_t errlen, std::string_view message) noexcept {
  if (err == nullptr || errlen == 0) return;
  const std::size_t n = std::min(message.size(), errlen - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

int FromStatus(const absl::Status& status, char* err, std::size_t errlen) noexcept {
  const auto message = status.message();  // absl::string_view: its own type in this abseil
  SetError(err, errlen, std::string_view(message.data(), message.size()));
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return SLUICE_OK;
    case absl::StatusCode::kResourceExhausted:
      return SLUICE_ENOMEM;
    case absl::StatusCode::kOutOfRange:
      return SLUICE_ERANGE;
    case absl::StatusCode::kNotFound:
      return SLUICE_ENOPOLICY;
    case absl::StatusCode::kDataLoss:  // StateTable::Attach: not this layout
      return SLUICE_ELAYOUT;
    case absl::StatusCode::kFailedPrecondition:  // StateTable::Attach: another boot
      return SLUICE_ESTALE;
    case absl::StatusCode::kUnavailable:  // StateTable::Attach: still being formatted
      return SLUICE_EBUSY;
    case absl::StatusCode::kUnknown:  // StateTable::OpenFile: a system call failed
    case absl::StatusCode::kAlreadyExists:
      return SLUICE_ESYS;
    default:
      return SLUICE_EINVAL;
  }
}

bool HasCas16() noexcept {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_CMPXCHG16B) != 0;
#else
  return true;  // other targets: the compiler's 16-byte __sync builtin is the contract
#endif
}

}  // namespace sluice::c_api

extern "C" {

unsigned sluice_version_number(void) noexcept { return SLUICE_VERSION_NUMBER; }

const char* sluice_version_string(void) noexcept { return SLUICE_VERSION_STRING; }

const char* sluice_strerror(int code) noexcept {
  switch (code) {
    case SLUICE_OK:
      return "success";
    case SLUICE_EINVAL:
      return "invalid argument";
    case SLUICE_ENOMEM:
      return "out of memory";
    case SLUICE_ELAYOUT:
      return "not a sluice table of this layout version and size";
    case SLUICE_ESTALE:
      return "the table was made under another boot";
    case SLUICE_ERANGE:
      return "value out of range or buffer too small";
    case SLUICE_ENOPOLICY:
      return "no such policy";
    case SLUICE_EBUSY:
      return "the table is still being formatted";
    case SLUICE_ESYS:
      return "a system call failed";
    case SLUICE_ENOTSUP:
      return "not supported";
    default:
      return "unknown sluice error";
  }
}

}  // extern "C"
