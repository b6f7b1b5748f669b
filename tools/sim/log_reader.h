// Lines of log files, plain or gzip-compressed (zlib reads both: a file that is not gzip is
// read as it is), one after the other, in constant memory: a 1 MiB buffer, whatever the
// file's length. A line longer than the buffer is handed over cut, flagged `too_long`.
#ifndef SLUICE_TOOLS_SIM_LOG_READER_H_
#define SLUICE_TOOLS_SIM_LOG_READER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::sim {

class LineReader {
 public:
  static constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

  // Opens `path` ('-': standard input). Errors: it cannot be opened.
  static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n' (valid until the next call), false at the end of the file.
  // An error (corrupt gzip data, a read error) ends the file: status() says what it was.
  bool Next(std::string_view& line, bool& too_long);
  [[nodiscard]] const absl::Status& status() const { return status_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  LineReader(std::string path, void* gz);
  bool Fill();

  std::string path_;
  void* gz_;  // gzFile
  std::unique_ptr<char[]> buffer_;
  std::size_t begin_ = 0;  // first byte not handed out
  std::size_t end_ = 0;    // one past the last byte read
  bool eof_ = false;
  bool skipping_ = false;  // inside the rest of a line already handed out cut
  absl::Status status_;
};

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_LOG_READER_H_
