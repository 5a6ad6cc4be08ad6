/* The machine's own limit for a cache-hit load: one thread, epoll (edge-triggered), keep-alive, and
 * for every complete request head read from a connection one copy of a response serialized once
 * at start (head and body from RESPONSE_FILE). No parsing beyond finding "\r\n\r\n", no routing, no
 * headers made per request: what any HTTP server must at least do per hit (one receive, one send),
 * so perfgate's hit rate over this one's says how much of the machine's limit it reaches.
 *
 *   ceiling_server PORT RESPONSE_FILE     (prints "ceiling ready" once listening on 127.0.0.1:PORT)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"

enum { kMaxEvents = 256, kBuffer = 65536 };

struct conn {
  int fd;
  size_t carry; /* bytes of a head kept from the last read ("\r\n\r\n" may span two reads) */
  char tail[3];
};

static char *response;
static size_t response_len;

static void close_conn(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

/* Reads what the connection has; answers each request head ended in it. 0: keep, -1: close. */
static int serve(struct conn *c) {
  static char in[kBuffer + 3];
  static char out[1 << 20];
  for (;;) {
    memcpy(in, c->tail, c->carry);
    ssize_t n = recv(c->fd, in + c->carry, kBuffer, 0);
    if (n == 0) return -1;
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    size_t len = c->carry + (size_t)n, used = 0;
    for (size_t i = 3; i < len; ++i) {
      if (in[i] == '\n' && in[i - 1] == '\r' && in[i - 2] == '\n' && in[i - 3] == '\r') {
        if (used + response_len > sizeof out) return -1;
        memcpy(out + used, response, response_len);
        used += response_len;
      }
    }
    c->carry = len < 3 ? len : 3;
    memcpy(c->tail, in + len - c->carry, c->carry);
    /* Pipelined answers go out in one send; a loaded socket buffer is not expected at 64
       connections of small responses, and a short write closes (a ceiling, not a server). */
    if (used > 0 && send(c->fd, out, used, MSG_NOSIGNAL) != (ssize_t)used) return -1;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT RESPONSE_FILE\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[2], "rb");
  if (f == NULL || fseek(f, 0, SEEK_END) != 0) return perror(argv[2]), 1;
  response_len = (size_t)ftell(f);
  rewind(f);
  response = malloc(response_len);
  if (response == NULL || fread(response, 1, response_len, f) != response_len) return perror(argv[2]), 1;
  fclose(f);

  int lfd = listen_loopback(argv[1], SOCK_NONBLOCK), one = 1;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  printf("ceiling ready\n");
  fflush(stdout);

  struct epoll_event events[kMaxEvents];
  for (;;) {
    int n = epoll_wait(ep, events, kMaxEvents, -1);
    for (int i = 0; i < n; ++i) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) { /* the listener */
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      if (serve(c) < 0) close_conn(ep, c);
    }
  }
}
