#include "sim/log_reader.h"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sluice::sim {

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path) {
  gzFile gz = nullptr;
  if (path == "-") {
    const int fd = dup(STDIN_FILENO);
    if (fd >= 0) gz = gzdopen(fd, "rb");
    if (gz == nullptr && fd >= 0) close(fd);
  } else {
    gz = gzopen(path.c_str(), "rb");
  }
  if (gz == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "cannot open log '", path, "': ", errno != 0 ? std::strerror(errno) : "out of memory"));
  }
  gzbuffer(gz, 256 * 1024);
  return std::unique_ptr<LineReader>(new LineReader(path, gz));
}

LineReader::LineReader(std::string path, void* gz)
    : path_(std::move(path)), gz_(gz), buffer_(new char[kBufferBytes]) {}

LineReader::~LineReader() { gzclose(static_cast<gzFile>(gz_)); }

// Moves what is left to the front and reads more behind it. False: nothing more came.
bool LineReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == kBufferBytes) return false;
  const int n = gzread(static_cast<gzFile>(gz_), buffer_.get() + end_,
                       static_cast<unsigned>(kBufferBytes - end_));
  if (n < 0) {
    int code = 0;
    const char* message = gzerror(static_cast<gzFile>(gz_), &code);
    status_ = absl::DataLossError(
        absl::StrCat("log '", path_, "': ", code == Z_ERRNO ? std::strerror(errno) : message,
                     " (the file is cut short or not gzip data)"));
    eof_ = true;
    return false;
  }
  if (n == 0) {
    // The end; zlib says Z_BUF_ERROR when it came inside a gzip stream (a file cut short).
    int code = 0;
    gzerror(static_cast<gzFile>(gz_), &code);
    if (code == Z_BUF_ERROR) {
      status_ = absl::DataLossError(
          absl::StrCat("log '", path_, "': the gzip data ends in the middle (a file cut short)"));
    }
    eof_ = true;
    return false;
  }
  end_ += static_cast<std::size_t>(n);
  return true;
}

bool LineReader::Next(std::string_view& line, bool& too_long) {
  too_long = false;
  for (;;) {
    const char* data = buffer_.get();
    const void* nl = std::memchr(data + begin_, '\n', end_ - begin_);
    if (nl != nullptr) {
      const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
      const std::string_view found(data + begin_, at - begin_);
      begin_ = at + 1;
      if (skipping_) {  // the tail of a line handed out cut: drop it
        skipping_ = false;
        continue;
      }
      line = found;
      return true;
    }
    if (begin_ == 0 && end_ == kBufferBytes) {  // a line longer than the buffer
      begin_ = end_;
      if (skipping_) continue;
      skipping_ = true;
      too_long = true;
      line = std::string_view(data, end_);
      return true;
    }
    if (!Fill()) {
      if (begin_ == end_) return false;
      line = std::string_view(data + begin_, end_ - begin_);  // a last line without '\n'
      begin_ = end_;
      if (skipping_) {
        skipping_ = false;
        return false;
      }
      return true;
    }
  }
}

}  // namespace sluice::sim
