// Adds fd to an epoll set, with the fd itself as the event's data (both server threads).
#pragma once

#include <sys/epoll.h>

#include <cstdint>

namespace finesse::server {

inline void epoll_watch(int ep, int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

}  // namespace finesse::server
