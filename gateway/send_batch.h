// The sends of one loop turn, made together. A connection with bytes to send (a streamed
// response's queue, a backend's request head) joins the worker's batch instead of calling send
// itself (a whole cache hit does not: see ClientConnection::flushWhole);
// once the turn's callbacks have run, the batch asks each member for its bytes and sends them all:
// with io_uring, in one io_uring_enter for the whole turn (a sendmsg operation per connection,
// MSG_DONTWAIT, so each completes at once: taken in whole or in part, or EAGAIN); without it, or
// when only one member has bytes, in one sendmsg per connection. Each member is then told what
// its socket took.
//
// On a loaded worker a turn's many sends cost one system call instead of one each, and a backend
// on the same CPU is woken once per turn instead of once per request: on bench/passthrough.sh
// (64 connections) the worker's CPU per proxied request went from 12.8 to 9.8 us and its context
// switches from one per 4 requests to one per 40.
//
// The batch is flushed from an event of its own, made active when its first member joins: it runs
// after the events the loop's poll reported (they were made active before it), so the sends of
// what those events produced go together. A member that joins after the flush began (a completion
// handler producing more) makes the event active again, later in the same turn.
#pragma once

#include <event2/event.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct io_uring;

namespace perfgate {

class SendBatch;

// A connection that sends through the batch.
class BatchedSender {
 public:
  // The socket, and the bytes to send now as at most `max` iovecs (their count; 0: nothing
  // after all). The bytes stay where they are until sent() is called.
  virtual int sendFd() const = 0;
  virtual size_t gatherSend(iovec* iov, size_t max) = 0;
  // What the socket took (> 0), or -errno (-EAGAIN: nothing, the socket is full); 0 when the
  // member gathered nothing.
  virtual void sent(long result) = 0;

 protected:
  virtual ~BatchedSender() = default;

 private:
  friend class SendBatch;
  enum class Place : uint8_t { None, Waiting, Sending };
  Place batch_place_ = Place::None;
  bool batch_again_ = false;  // joined again while its gathered bytes were being sent
  uint32_t batch_slot_ = 0;
};

class SendBatch {
 public:
  explicit SendBatch(event_base* base);
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Sends through io_uring from now on, or one sendmsg per member; false when io_uring was asked
  // for and cannot be had (`why` says what failed), and then sendmsg it is.
  bool useRing(bool wanted, std::string* why = nullptr);
  bool usingRing() const { return ring_ != nullptr; }

  // `sender` sends at the end of this turn (once, however often it joins).
  void join(BatchedSender* sender);
  // `sender` is closing: it is not asked for bytes, nor told of a send, after this.
  void leave(BatchedSender* sender);

  // Counted since the start: flushes that sent something, and the sends made.
  uint64_t flushes() const { return flushes_; }
  uint64_t sends() const { return sends_; }

 private:
  static constexpr size_t kMaxIov = 8;
  static constexpr unsigned kRingEntries = 256;

  static void onFlush(evutil_socket_t, short, void* self) noexcept;
  // Sends what is waiting now: asks each member for its bytes, sends them all, tells each.
  void flush();
  // Sends members [0, count) of sending_, whose messages are prepared (`gathered` of them have
  // bytes).
  void sendPrepared(size_t count, size_t gathered);
  void finish(size_t slot, long result);

  event* flush_event_;
  bool flush_active_ = false;
  io_uring* ring_ = nullptr;
  std::vector<BatchedSender*> waiting_;
  std::vector<BatchedSender*> sending_;  // null where a member left during the flush
  std::vector<iovec> iov_;               // kMaxIov per member being sent
  std::vector<msghdr> messages_;
  std::vector<long> results_;
  uint64_t flushes_ = 0;
  uint64_t sends_ = 0;
};

}  // namespace perfgate
