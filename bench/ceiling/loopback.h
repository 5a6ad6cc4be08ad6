/* What the ceiling programs share: addresses on 127.0.0.1 and the listening socket. */
#pragma once

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* 127.0.0.1:PORT, PORT given as text. */
static inline struct sockaddr_in loopback_address(const char *port) {
  return (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* A socket listening on 127.0.0.1:PORT (`type_flags`: SOCK_NONBLOCK or 0); exits on failure. */
static inline int listen_loopback(const char *port, int type_flags) {
  int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0), one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = loopback_address(port);
  if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 4096) != 0) {
    perror("listen");
    exit(1);
  }
  return fd;
}
