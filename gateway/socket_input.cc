#include "gateway/socket_input.h"

#include <sys/socket.h>

#include <algorithm>

namespace perfgate {

ssize_t SocketInput::read(int fd, size_t want) {
  want = std::min(want, kReadChunk);
  if (held_.size() == taken_) {
    thread_local std::string buffer(kReadChunk, '\0');
    ssize_t n = ::recv(fd, buffer.data(), want, 0);
    if (n > 0) {
      rest_ = std::string_view(buffer.data(), static_cast<size_t>(n));
      direct_ = true;
    }
    return n;
  }
  if (taken_ > 0) {  // what was taken goes before more is read behind the rest
    held_.erase(0, taken_);
    taken_ = 0;
  }
  const size_t have = held_.size();
  held_.resize(have + want);
  ssize_t n = ::recv(fd, held_.data() + have, want, 0);
  held_.resize(have + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  return n;
}

void SocketInput::settle(bool keep) {
  if (!direct_) return;
  direct_ = false;
  if (keep && !rest_.empty()) held_.assign(rest_);
  rest_ = {};
}

void SocketInput::consume(size_t n) {
  if (direct_) {
    rest_.remove_prefix(n);
    return;
  }
  taken_ += n;
  if (taken_ == held_.size()) {  // all taken: the memory goes, the next read is direct again
    held_ = std::string();
    taken_ = 0;
  }
}

}  // namespace perfgate
