/* The machine's own limit for a pass-through load: one thread, epoll, and for each client
 * connection one keep-alive connection to the backend, opened when the client connects. Bytes are
 * relayed as they come, in both directions: one recv and one send per read, nothing parsed, no
 * headers added or checked, nothing buffered. What any proxy must at least do per proxied request
 * (a receive and a send on each side), so a proxy's rate over this one's says how much of the
 * machine's limit for the load it reaches.
 *
 *   ceiling_proxy PORT BACKEND_PORT   (prints "ceiling proxy ready" once listening on 127.0.0.1:PORT)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

struct pair;
struct side {
  struct pair *pair;
  struct side *peer;
  int fd;
};
struct pair {
  struct side client, upstream;
};

static struct sockaddr_in backend;
static struct side closed; /* stands for a side closed earlier in the same batch of events */

static int connect_backend(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&backend, sizeof backend) != 0) {
    close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static void close_pair(int ep, struct pair *p) {
  epoll_ctl(ep, EPOLL_CTL_DEL, p->client.fd, NULL);
  epoll_ctl(ep, EPOLL_CTL_DEL, p->upstream.fd, NULL);
  close(p->client.fd);
  close(p->upstream.fd);
  free(p);
}

/* One recv from `s`, the bytes sent on to its peer. 0: keep, -1: close the pair. A short send
 * closes: with small answers the socket buffers never fill (a ceiling, not a proxy). */
static int relay(struct side *s) {
  static char buf[kBuffer];
  ssize_t n = recv(s->fd, buf, sizeof buf, 0);
  if (n == 0) return -1;
  if (n < 0) return errno == EAGAIN ? 0 : -1;
  return send(s->peer->fd, buf, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT BACKEND_PORT\n", argv[0]);
    return 2;
  }
  backend = loopback_address(argv[2]);
  int lfd = listen_loopback(argv[1], SOCK_NONBLOCK), one = 1;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  printf("ceiling proxy ready\n");
  fflush(stdout);

  struct epoll_event events[kMaxEvents];
  for (;;) {
    int n = epoll_wait(ep, events, kMaxEvents, -1);
    for (int i = 0; i < n; ++i) {
      struct side *s = events[i].data.ptr;
      if (s == &closed) continue;
      if (s == NULL) { /* the listener */
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          int up = connect_backend();
          if (up < 0) {
            perror("connect to the backend");
            close(fd);
            continue;
          }
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct pair *p = calloc(1, sizeof *p);
          p->client = (struct side){p, &p->upstream, fd};
          p->upstream = (struct side){p, &p->client, up};
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = &p->client};
          struct epoll_event uev = {.events = EPOLLIN, .data.ptr = &p->upstream};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          epoll_ctl(ep, EPOLL_CTL_ADD, up, &uev);
        }
        continue;
      }
      if (relay(s) < 0) {
        struct pair *p = s->pair;
        /* the pair's other side may be later in this batch: drop it from the rest */
        for (int j = i + 1; j < n; ++j) {
          if (events[j].data.ptr == &p->client || events[j].data.ptr == &p->upstream) events[j].data.ptr = &closed;
        }
        close_pair(ep, p);
      }
    }
  }
}
