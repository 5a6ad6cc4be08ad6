// The bytes a connection has read from its socket and not yet taken, for a connection that parses
// in place (the client side's HTTP/1.1 connection, a backend connection).
//
// A read made while nothing is held lands in the thread's buffer and is taken from there while
// the connection processes it; only what is left after that is copied into the connection's own
// buffer (settle()). So a message read whole costs no copy and no allocation, and a connection
// between messages holds no input memory. A read made while bytes are held goes behind them, in
// the connection's buffer. The TLS side will read the same way, with its plaintext as the bytes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace perfgate {

class SocketInput {
 public:
  // The most one read takes (as libevent's bufferevent reads: larger reads let the kernel grow
  // the receive buffer, and read further ahead of a slow consumer).
  static constexpr size_t kReadChunk = 16 * 1024;

  // One recv of at most `want` bytes (at most kReadChunk); recv's result (errno set when < 0).
  // Bytes read into the thread's buffer are view() until settle(), which must follow before the
  // thread reads again.
  ssize_t read(int fd, size_t want);
  // After the bytes of a read were processed: what is left of them becomes the connection's own,
  // or is dropped when `keep` is false (the connection closed meanwhile).
  void settle(bool keep = true);

  std::string_view view() const { return direct_ ? rest_ : std::string_view(held_).substr(taken_); }
  size_t size() const { return view().size(); }
  bool empty() const { return view().empty(); }
  void consume(size_t n);

 private:
  std::string held_;      // bytes left over between reads (from taken_)
  size_t taken_ = 0;
  std::string_view rest_;  // while direct_: what is left of the read in the thread's buffer
  bool direct_ = false;
};

}  // namespace perfgate
