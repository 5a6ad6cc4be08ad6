/* ceiling_proxy.c's relay on io_uring instead of epoll: the same pairing (one keep-alive
 * connection to the backend per client connection, opened when the client connects) and the same
 * relay (bytes sent on as they come, nothing parsed), but every receive and send is an io_uring
 * operation, and all that one batch of completions asks for goes to the kernel in one
 * io_uring_enter. It measures whether batching the system calls of many connections lowers the
 * machine's limit for a pass-through load enough to be worth building a proxy on.
 *
 *   ceiling_proxy_uring PORT BACKEND_PORT   (prints "ceiling proxy ready" once listening)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"

enum { kBuffer = 16384, kQueue = 4096 };
enum { kRecv = 0, kSend = 1, kAccept = 2 }; /* the low bits of an operation's user_data */

struct pair;
struct side {
  struct pair *pair;
  struct side *peer;
  int fd;
  int sending;       /* bytes of buf being sent to the peer */
  char buf[kBuffer]; /* what the last recv on fd got, until its send to the peer completes */
} __attribute__((aligned(8)));
struct pair {
  struct side client, upstream;
  int inflight; /* operations submitted and not completed */
  int dead;
};

static struct io_uring ring;
static struct sockaddr_in backend;

static struct io_uring_sqe *sqe(void) {
  struct io_uring_sqe *e = io_uring_get_sqe(&ring);
  if (e == NULL) { /* the queue is full: hand it to the kernel and take a fresh one */
    io_uring_submit(&ring);
    e = io_uring_get_sqe(&ring);
  }
  return e;
}

static void post_recv(struct side *s) {
  struct io_uring_sqe *e = sqe();
  io_uring_prep_recv(e, s->fd, s->buf, sizeof s->buf, 0);
  io_uring_sqe_set_data64(e, (uint64_t)(uintptr_t)s | kRecv);
  s->pair->inflight++;
}

static void post_send(struct side *from, size_t n) {
  struct io_uring_sqe *e = sqe();
  io_uring_prep_send(e, from->peer->fd, from->buf, n, MSG_NOSIGNAL);
  from->sending = (int)n;
  io_uring_sqe_set_data64(e, (uint64_t)(uintptr_t)from | kSend);
  from->pair->inflight++;
}

static void post_accept(int lfd) {
  struct io_uring_sqe *e = sqe();
  io_uring_prep_accept(e, lfd, NULL, NULL, 0);
  io_uring_sqe_set_data64(e, kAccept);
}

/* The pair ends: both sockets are shut down, which completes any receive still waiting on them;
 * the memory goes once the last of its operations has completed. */
static void end_pair(struct pair *p) {
  if (!p->dead) {
    p->dead = 1;
    shutdown(p->client.fd, SHUT_RDWR);
    shutdown(p->upstream.fd, SHUT_RDWR);
  }
  if (p->inflight == 0) {
    close(p->client.fd);
    close(p->upstream.fd);
    free(p);
  }
}

static void start_pair(int fd) {
  int up = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (up < 0 || connect(up, (struct sockaddr *)&backend, sizeof backend) != 0) {
    perror("connect to the backend");
    if (up >= 0) close(up);
    close(fd);
    return;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct pair *p = aligned_alloc(8, (sizeof(struct pair) + 7) / 8 * 8);
  p->inflight = p->dead = 0;
  p->client.pair = p->upstream.pair = p;
  p->client.peer = &p->upstream;
  p->upstream.peer = &p->client;
  p->client.fd = fd;
  p->upstream.fd = up;
  post_recv(&p->client);
  post_recv(&p->upstream);
}

static void complete(int lfd, uint64_t data, int res) {
  if (data == kAccept) {
    if (res >= 0) start_pair(res);
    post_accept(lfd);
    return;
  }
  struct side *s = (struct side *)(uintptr_t)(data & ~(uint64_t)3);
  struct pair *p = s->pair;
  p->inflight--;
  if (p->dead) {
    end_pair(p);
  } else if ((data & 3) == kRecv) {
    if (res > 0) {
      post_send(s, (size_t)res);
    } else {
      end_pair(p);
    }
  } else { /* a send: a short one ends the pair (small answers never fill the socket) */
    if (res == s->sending) {
      post_recv(s);
    } else {
      end_pair(p);
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT BACKEND_PORT\n", argv[0]);
    return 2;
  }
  backend = loopback_address(argv[2]);
  int lfd = listen_loopback(argv[1], 0);

  /* Completions' work runs only when this thread asks for completions (one batch per enter). */
  struct io_uring_params params = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
  int err = io_uring_queue_init_params(kQueue, &ring, &params);
  if (err < 0) {
    params = (struct io_uring_params){.flags = 0};
    err = io_uring_queue_init_params(kQueue, &ring, &params);
  }
  if (err < 0) return fprintf(stderr, "io_uring: %s\n", strerror(-err)), 1;
  post_accept(lfd);
  printf("ceiling proxy ready (io_uring%s)\n", params.flags ? ", deferred task work" : "");
  fflush(stdout);

  for (;;) {
    err = io_uring_submit_and_wait(&ring, 1);
    if (err < 0 && err != -EINTR) return fprintf(stderr, "io_uring_enter: %s\n", strerror(-err)), 1;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      complete(lfd, cqe->user_data, cqe->res);
      seen++;
    }
    io_uring_cq_advance(&ring, seen);
  }
}
