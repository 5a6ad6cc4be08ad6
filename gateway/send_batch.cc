#include "gateway/send_batch.h"

#include <liburing.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace perfgate {

namespace {

constexpr long kNotSent = LONG_MIN;  // a prepared message the kernel did not take up
constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;

}  // namespace

SendBatch::SendBatch(event_base* base) : flush_event_(event_new(base, -1, 0, &SendBatch::onFlush, this)) {}

SendBatch::~SendBatch() {
  event_free(flush_event_);
  useRing(false);
}

bool SendBatch::useRing(bool wanted, std::string* why) {
  if (!wanted) {
    if (ring_ != nullptr) {
      io_uring_queue_exit(ring_);
      delete ring_;
      ring_ = nullptr;
    }
    return true;
  }
  if (ring_ != nullptr) return true;
  auto* ring = new io_uring;
  int err = io_uring_queue_init(kRingEntries, ring, 0);
  if (err < 0) {
    delete ring;
    if (why != nullptr) *why = std::strerror(-err);
    return false;
  }
  ring_ = ring;
  return true;
}

void SendBatch::join(BatchedSender* sender) {
  switch (sender->batch_place_) {
    case BatchedSender::Place::Waiting:
      return;
    case BatchedSender::Place::Sending:
      // Its bytes were gathered before these were added: it sends again once told of that send.
      sender->batch_again_ = true;
      return;
    case BatchedSender::Place::None:
      break;
  }
  sender->batch_place_ = BatchedSender::Place::Waiting;
  sender->batch_slot_ = static_cast<uint32_t>(waiting_.size());
  waiting_.push_back(sender);
  if (!flush_active_) {
    flush_active_ = true;
    event_active(flush_event_, EV_WRITE, 0);
  }
}

void SendBatch::leave(BatchedSender* sender) {
  switch (sender->batch_place_) {
    case BatchedSender::Place::Waiting:
      waiting_[sender->batch_slot_] = nullptr;
      break;
    case BatchedSender::Place::Sending:
      sending_[sender->batch_slot_] = nullptr;
      break;
    case BatchedSender::Place::None:
      return;
  }
  sender->batch_place_ = BatchedSender::Place::None;
  sender->batch_again_ = false;
}

void SendBatch::onFlush(evutil_socket_t, short, void* self) noexcept { static_cast<SendBatch*>(self)->flush(); }

void SendBatch::flush() {
  flush_active_ = false;
  if (waiting_.empty()) return;
  sending_.swap(waiting_);
  const size_t count = sending_.size();
  if (messages_.size() < count) {
    messages_.resize(count);
    results_.resize(count);
    iov_.resize(count * kMaxIov);
  }
  size_t gathered = 0;
  for (size_t slot = 0; slot < count; ++slot) {
    BatchedSender* sender = sending_[slot];
    results_[slot] = 0;  // told 0 if it gathers nothing; kNotSent once its message is prepared
    if (sender == nullptr) continue;
    sender->batch_place_ = BatchedSender::Place::Sending;
    sender->batch_slot_ = static_cast<uint32_t>(slot);
    size_t parts = sender->gatherSend(&iov_[slot * kMaxIov], kMaxIov);
    if (parts == 0) continue;
    msghdr& message = messages_[slot];
    message = msghdr{};
    message.msg_iov = &iov_[slot * kMaxIov];
    message.msg_iovlen = parts;
    results_[slot] = kNotSent;
    ++gathered;
  }
  if (gathered > 0) {
    ++flushes_;
    sends_ += gathered;
    sendPrepared(count, gathered);
  }
  // Each member is told what its socket took; a member told may end another one (which then is
  // not told), or add bytes to its own queue (it joins the next flush).
  for (size_t slot = 0; slot < count; ++slot) {
    if (sending_[slot] != nullptr) finish(slot, results_[slot]);
  }
  sending_.clear();
}

void SendBatch::sendPrepared(size_t count, size_t gathered) {
  // One send alone is cheaper as a sendmsg than as a ring submission (an idle connection's turn).
  if (ring_ != nullptr && gathered > 1) {
    size_t slot = 0;
    while (slot < count && ring_ != nullptr) {
      const size_t first = slot;
      unsigned queued = 0;
      for (; slot < count && queued < kRingEntries; ++slot) {
        if (results_[slot] != kNotSent) continue;
        io_uring_sqe* sqe = io_uring_get_sqe(ring_);
        io_uring_prep_sendmsg(sqe, sending_[slot]->sendFd(), &messages_[slot], kSendFlags);
        io_uring_sqe_set_data64(sqe, slot);
        ++queued;
      }
      if (queued == 0) break;
      int submitted;
      do {
        submitted = io_uring_submit_and_wait(ring_, queued);
      } while (submitted == -EINTR);
      // MSG_DONTWAIT: every operation completes in the call (sent, or EAGAIN). Reap what was
      // taken up; a submission refused in whole or in part leaves the ring for sendmsg (its
      // untaken entries go with it, so none of them is ever sent twice).
      unsigned taken = submitted > 0 ? static_cast<unsigned>(submitted) : 0;
      unsigned reaped = 0;
      while (reaped < taken) {
        io_uring_cqe* cqe = nullptr;
        int err = io_uring_wait_cqe(ring_, &cqe);
        if (err == -EINTR) continue;
        if (err < 0) break;
        results_[io_uring_cqe_get_data64(cqe)] = cqe->res;
        io_uring_cqe_seen(ring_, cqe);
        ++reaped;
      }
      if (reaped < taken) {
        // Taken up but never reported: whether those bytes went out is unknown, so their
        // connections are given an error (they close) rather than a second send.
        for (size_t i = first; i < slot; ++i) {
          if (results_[i] == kNotSent) results_[i] = -EIO;
        }
      }
      if (taken < queued || reaped < taken) {
        spdlog::warn("io_uring took {} of {} sends and reported {} ({}); sending with sendmsg from now on", taken,
                     queued, reaped, submitted < 0 ? std::strerror(-submitted) : "short submission");
        useRing(false);
      }
    }
  }
  for (size_t slot = 0; slot < count; ++slot) {
    if (results_[slot] != kNotSent) continue;
    ssize_t n = ::sendmsg(sending_[slot]->sendFd(), &messages_[slot], kSendFlags);
    results_[slot] = n >= 0 ? static_cast<long>(n) : -static_cast<long>(errno);
  }
}

void SendBatch::finish(size_t slot, long result) {
  BatchedSender* sender = sending_[slot];
  sending_[slot] = nullptr;
  sender->batch_place_ = BatchedSender::Place::None;
  if (sender->batch_again_) {
    sender->batch_again_ = false;
    join(sender);
  }
  sender->sent(result);
}

}  // namespace perfgate
