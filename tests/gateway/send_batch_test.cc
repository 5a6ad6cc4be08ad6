// SendBatch over real loopback TCP connections, with io_uring and with one sendmsg per member:
// what a member is asked for and told, in what order bytes arrive, full sockets, closed peers,
// members leaving and joining again while a flush runs.
#include "gateway/send_batch.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace perfgate {
namespace {

// A connected pair over 127.0.0.1: `near` (non-blocking, the batch sends on it) and `far`.
struct SocketPair {
  int near = -1;
  int far = -1;
  SocketPair() {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(listener);
      return;
    }
    near = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(near, reinterpret_cast<sockaddr*>(&address), length) == 0) far = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    ::fcntl(near, F_SETFL, ::fcntl(near, F_GETFL) | O_NONBLOCK);
  }
  ~SocketPair() {
    if (near >= 0) ::close(near);
    if (far >= 0) ::close(far);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;

  // What `far` has received, waiting until `bytes` have come or a second has passed.
  std::string received(size_t bytes) const {
    std::string out;
    char buffer[65536];
    while (out.size() < bytes) {
      pollfd p{far, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) break;
      ssize_t n = ::recv(far, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
};

// A member that sends `data` (from `offset` on, in two iovecs when it can) and records each result.
struct Member final : BatchedSender {
  explicit Member(int socket = -1, std::string bytes = {}) : fd(socket), data(std::move(bytes)) {}

  int fd;
  std::string data;
  size_t offset = 0;
  int asked = 0;
  std::vector<long> results;
  std::function<void(long)> on_sent;

  int sendFd() const override { return fd; }
  size_t gatherSend(iovec* iov, size_t max) override {
    ++asked;
    std::string_view rest = std::string_view(data).substr(offset);
    if (rest.empty() || max == 0) return 0;
    size_t half = max >= 2 ? rest.size() / 2 : 0;
    size_t count = 0;
    if (half > 0) iov[count++] = iovec{const_cast<char*>(rest.data()), half};
    iov[count++] = iovec{const_cast<char*>(rest.data() + half), rest.size() - half};
    return count;
  }
  void sent(long result) override {
    results.push_back(result);
    if (result > 0) offset += static_cast<size_t>(result);
    if (on_sent) on_sent(result);
  }
};

class SendBatchTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    batch_ = std::make_unique<SendBatch>(base_);
    std::string why;
    if (GetParam() && !batch_->useRing(true, &why)) GTEST_SKIP() << "io_uring is not available here: " << why;
    ASSERT_EQ(batch_->usingRing(), GetParam());
  }
  void TearDown() override {
    batch_.reset();
    event_base_free(base_);
  }
  // One loop pass: the flush event (and any flush it makes active again) runs.
  void turn() { event_base_loop(base_, EVLOOP_NONBLOCK); }

  event_base* base_ = nullptr;
  std::unique_ptr<SendBatch> batch_;
};

TEST_P(SendBatchTest, OneFlushSendsEveryMemberOnceAndEachIsTold) {
  SocketPair one, two;
  ASSERT_GE(one.far, 0);
  ASSERT_GE(two.far, 0);
  Member a(one.near, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  Member b(two.near, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  batch_->join(&a);
  batch_->join(&b);
  batch_->join(&a);  // joined twice: still asked once
  EXPECT_TRUE(a.results.empty()) << "nothing is sent before the loop turns";
  turn();
  EXPECT_EQ(a.asked, 1);
  EXPECT_EQ(b.asked, 1);
  EXPECT_EQ(a.results, std::vector<long>{static_cast<long>(a.data.size())});
  EXPECT_EQ(b.results, std::vector<long>{static_cast<long>(b.data.size())});
  EXPECT_EQ(one.received(a.data.size()), a.data);
  EXPECT_EQ(two.received(b.data.size()), b.data);
  EXPECT_EQ(batch_->flushes(), 1u);
  EXPECT_EQ(batch_->sends(), 2u);
  turn();
  EXPECT_EQ(a.asked, 1) << "a member is asked only after it joins again";
}

TEST_P(SendBatchTest, AMemberThatLeavesBeforeTheFlushIsNeitherAskedNorTold) {
  SocketPair pair;
  ASSERT_GE(pair.far, 0);
  Member a(pair.near, "never");
  batch_->join(&a);
  batch_->leave(&a);
  turn();
  EXPECT_EQ(a.asked, 0);
  EXPECT_TRUE(a.results.empty());
  EXPECT_EQ(pair.received(1), "");
  EXPECT_EQ(batch_->flushes(), 0u);
}

TEST_P(SendBatchTest, AMemberEndedByAnotherOneDuringTheFlushIsNotTold) {
  SocketPair one, two;
  ASSERT_GE(one.far, 0);
  ASSERT_GE(two.far, 0);
  Member a(one.near, "first");
  Member b(two.near, "second");
  a.on_sent = [&](long) { batch_->leave(&b); };  // as a client's error closing its exchange's backend connection
  batch_->join(&a);
  batch_->join(&b);
  turn();
  EXPECT_EQ(a.results.size(), 1u);
  EXPECT_EQ(b.asked, 1);
  EXPECT_TRUE(b.results.empty());
  // Its bytes went with the batch (every send is made before any member is told).
  EXPECT_EQ(two.received(b.data.size()), b.data);
}

TEST_P(SendBatchTest, BytesAddedWhileAMemberIsBeingSentGoInASecondFlushOfTheSameTurn) {
  SocketPair one, two;
  ASSERT_GE(one.far, 0);
  ASSERT_GE(two.far, 0);
  Member a(one.near, "head");
  Member b(two.near, "b1;");
  // a's completion produces more for b, whose first bytes are in this flush and not yet told.
  a.on_sent = [&](long) {
    b.data += "b2;";
    batch_->join(&b);
  };
  batch_->join(&a);
  batch_->join(&b);
  turn();
  EXPECT_EQ(two.received(6), "b1;b2;");
  EXPECT_EQ(b.asked, 2);
  EXPECT_EQ(b.results, (std::vector<long>{3, 3}));
  EXPECT_EQ(batch_->flushes(), 2u);
}

TEST_P(SendBatchTest, AFullSocketTakesPartThenNothing) {
  SocketPair pair;
  ASSERT_GE(pair.far, 0);
  int small = 4096;
  ::setsockopt(pair.near, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(pair.far, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Member a(pair.near, std::string(8 << 20, 'x'));  // far more than the two buffers hold; nobody reads
  batch_->join(&a);
  turn();
  ASSERT_EQ(a.results.size(), 1u);
  EXPECT_GT(a.results[0], 0);
  EXPECT_LT(a.results[0], static_cast<long>(a.data.size()));
  for (int i = 0; i < 64 && a.results.back() > 0; ++i) {  // until the socket takes nothing more
    batch_->join(&a);
    turn();
  }
  EXPECT_EQ(a.results.back(), -EAGAIN);
  EXPECT_EQ(pair.received(a.offset), std::string(a.offset, 'x')) << "what was taken arrives";
}

TEST_P(SendBatchTest, APeerThatResetTheConnectionGivesAnError) {
  SocketPair pair;
  ASSERT_GE(pair.far, 0);
  linger reset{1, 0};
  ::setsockopt(pair.far, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(std::exchange(pair.far, -1));  // RST
  Member a(pair.near, "to nobody");
  for (int i = 0; i < 4 && (a.results.empty() || a.results.back() > 0); ++i) {
    batch_->join(&a);
    turn();
  }
  ASSERT_FALSE(a.results.empty());
  EXPECT_LT(a.results.back(), 0);
  EXPECT_NE(a.results.back(), -EAGAIN);
}

TEST_P(SendBatchTest, AMemberWithNothingToSendIsToldZero) {
  SocketPair pair;
  ASSERT_GE(pair.far, 0);
  Member a(pair.near);
  batch_->join(&a);
  turn();
  EXPECT_EQ(a.asked, 1);
  EXPECT_EQ(a.results, std::vector<long>{0});
  EXPECT_EQ(batch_->flushes(), 0u);
}

TEST_P(SendBatchTest, MoreMembersThanTheRingHoldsAllGoOut) {
  constexpr int kMembers = 300;  // above the ring's 256 entries: two submissions
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<Member> members(kMembers);
  for (int i = 0; i < kMembers; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    ASSERT_GE(pairs.back()->far, 0);
    members[i].fd = pairs.back()->near;
    members[i].data = "member " + std::to_string(i);
    batch_->join(&members[i]);
  }
  turn();
  for (int i = 0; i < kMembers; ++i) {
    ASSERT_EQ(members[i].results, std::vector<long>{static_cast<long>(members[i].data.size())}) << i;
    ASSERT_EQ(pairs[i]->received(members[i].data.size()), members[i].data) << i;
  }
  EXPECT_EQ(batch_->sends(), static_cast<uint64_t>(kMembers));
}

INSTANTIATE_TEST_SUITE_P(Sends, SendBatchTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? std::string("IoUring") : std::string("Sendmsg");
                         });

}  // namespace
}  // namespace perfgate
