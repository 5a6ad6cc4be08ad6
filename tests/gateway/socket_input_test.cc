// SocketInput over real socket pairs: where a read lands, what a connection keeps after settle(),
// the order of bytes read behind what it keeps, and two connections sharing the thread's buffer.
#include "gateway/socket_input.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace perfgate {
namespace {

// A connected stream pair: `near` (non-blocking, read through SocketInput) and `far` (written).
struct Pair {
  int near = -1;
  int far = -1;
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return;
    near = fds[0];
    far = fds[1];
    ::fcntl(near, F_SETFL, ::fcntl(near, F_GETFL) | O_NONBLOCK);
  }
  ~Pair() {
    if (near >= 0) ::close(near);
    if (far >= 0) ::close(far);
  }
  void write(const std::string& bytes) const { ASSERT_EQ(::send(far, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size())); }
};

TEST(SocketInput, AReadTakenWholeLeavesNothingHeld) {
  Pair pair;
  SocketInput input;
  pair.write("GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(input.read(pair.near, SocketInput::kReadChunk), 18);
  EXPECT_EQ(input.view(), "GET / HTTP/1.1\r\n\r\n");
  input.consume(18);
  input.settle();
  EXPECT_TRUE(input.empty());
}

TEST(SocketInput, WhatIsLeftIsKeptAndTheNextReadGoesBehindIt) {
  Pair pair;
  SocketInput input;
  pair.write("first|sec");
  ASSERT_EQ(input.read(pair.near, SocketInput::kReadChunk), 9);
  input.consume(6);
  input.settle();
  EXPECT_EQ(input.view(), "sec");
  pair.write("ond|third");
  ASSERT_EQ(input.read(pair.near, SocketInput::kReadChunk), 9);
  EXPECT_EQ(input.view(), "second|third");
  input.consume(7);
  input.settle();  // a read behind held bytes is already the connection's own
  EXPECT_EQ(input.view(), "third");
  input.consume(5);
  EXPECT_TRUE(input.empty());
  pair.write("fourth");
  ASSERT_EQ(input.read(pair.near, SocketInput::kReadChunk), 6);
  EXPECT_EQ(input.view(), "fourth");
}

TEST(SocketInput, SettleWithoutKeepingDropsTheRest) {
  Pair pair;
  SocketInput input;
  pair.write("abcdef");
  ASSERT_EQ(input.read(pair.near, SocketInput::kReadChunk), 6);
  input.consume(2);
  input.settle(false);
  EXPECT_TRUE(input.empty());
}

TEST(SocketInput, ConnectionsSharingTheThreadsBufferKeepTheirOwnBytes) {
  Pair a, b;
  SocketInput first, second;
  a.write("a-partial");
  ASSERT_EQ(first.read(a.near, SocketInput::kReadChunk), 9);
  first.consume(2);
  first.settle();
  b.write("b-bytes-overwrite-the-thread-buffer");
  ASSERT_GT(second.read(b.near, SocketInput::kReadChunk), 0);
  EXPECT_EQ(first.view(), "partial");
  EXPECT_EQ(second.view(), "b-bytes-overwrite-the-thread-buffer");
  second.settle();
  EXPECT_EQ(second.view(), "b-bytes-overwrite-the-thread-buffer");
}

TEST(SocketInput, AReadTakesAtMostWhatIsAskedAndAtMostAChunk) {
  Pair pair;
  SocketInput input;
  std::string big(SocketInput::kReadChunk + 100, 'x');
  pair.write(big);
  ASSERT_EQ(input.read(pair.near, 10), 10);
  input.settle();
  EXPECT_EQ(input.size(), 10u);
  ASSERT_EQ(input.read(pair.near, 2 * SocketInput::kReadChunk), static_cast<ssize_t>(SocketInput::kReadChunk));
  EXPECT_EQ(input.size(), SocketInput::kReadChunk + 10);
  ASSERT_EQ(input.read(pair.near, SocketInput::kReadChunk), 90);
  EXPECT_EQ(input.view(), big);
}

TEST(SocketInput, AnEmptySocketAndItsEndAreRecvsResults) {
  Pair pair;
  SocketInput input;
  errno = 0;
  EXPECT_EQ(input.read(pair.near, SocketInput::kReadChunk), -1);
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
  EXPECT_TRUE(input.empty());
  ::shutdown(pair.far, SHUT_WR);
  EXPECT_EQ(input.read(pair.near, SocketInput::kReadChunk), 0);
  EXPECT_TRUE(input.empty());
}

}  // namespace
}  // namespace perfgate
