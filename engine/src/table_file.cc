// A state table in a file several processes map (StateTable::OpenFile). The engine's only file
// I/O, all of it at configuration time: open, size, map, then Format() or Attach().
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal/table_layout.h"
#include "sluice/state_table.h"

namespace sluice {
namespace {

absl::Status SysError(const char* what, const std::string& path, int err) {
  const std::string text = std::strerror(err);
  const std::string message = absl::StrCat(what, " ", path, ": ", text);
  if (err == EEXIST) return absl::AlreadyExistsError(message);
  return absl::UnknownError(message);
}

// Closes a file descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Waits up to about two seconds for another process that is creating the file to size and
// format it. Configuration time only: a short sleep between looks.
constexpr int kCreatorWaitRounds = 200;
constexpr auto kCreatorWaitStep = std::chrono::milliseconds(10);

}  // namespace

absl::StatusOr<std::unique_ptr<StateTable>> StateTable::OpenFile(const std::string& path,
                                                                 TableFileFlags flags,
                                                                 unsigned mode,
                                                                 const TableOptions& options) {
  Fd file;
  bool creator = false;
  if (flags.create) {
    file.fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (file.fd >= 0) {
      creator = true;
    } else if (errno != EEXIST || flags.exclusive) {
      return SysError("cannot create", path, errno);
    }
  }
  if (!creator) {
    file.fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (file.fd < 0) return SysError("cannot open", path, errno);
  }

  const auto format_file =
      [&](std::size_t capacity) -> absl::StatusOr<std::unique_ptr<StateTable>> {
    if (capacity == 0 || capacity > (std::size_t{1} << 34)) {
      return absl::InvalidArgumentError("table capacity must be 1 to 2^34 keys");
    }
    const std::size_t bytes = BytesFor(capacity);
    if (ftruncate(file.fd, static_cast<off_t>(bytes)) != 0) {
      return SysError("cannot size", path, errno);
    }
    void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd, 0);
    if (memory == MAP_FAILED) return SysError("cannot map", path, errno);
    TableOptions o = options;
    o.capacity = capacity;
    auto table = Format(memory, bytes, o);
    if (!table.ok()) {
      munmap(memory, bytes);
      return table.status();
    }
    (*table)->unmap_ = memory;
    (*table)->unmap_bytes_ = bytes;
    return table;
  };
  if (creator) return format_file(options.capacity);

  absl::Status last = absl::UnavailableError("the table file is still being created");
  for (int round = 0; round < kCreatorWaitRounds; ++round) {
    struct stat st;
    if (fstat(file.fd, &st) != 0) return SysError("cannot stat", path, errno);
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size >= kHeaderBytes) {
      void* memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd, 0);
      if (memory == MAP_FAILED) return SysError("cannot map", path, errno);
      auto table = Attach(memory, size);
      if (table.ok()) {
        (*table)->unmap_ = memory;
        (*table)->unmap_bytes_ = size;
        return table;
      }
      munmap(memory, size);
      if (absl::IsFailedPrecondition(table.status()) && flags.reset_stale) {
        return format_file(options.capacity);
      }
      if (!absl::IsUnavailable(table.status())) {
        return absl::Status(table.status().code(),
                            absl::StrCat(path, ": ", table.status().message()));
      }
      last = table.status();
    }
    std::this_thread::sleep_for(kCreatorWaitStep);
  }
  return absl::UnavailableError(absl::StrCat(path, ": ", last.message(),
                                             " (a creator that died while formatting leaves it "
                                             "so: remove the file)"));
}

}  // namespace sluice
