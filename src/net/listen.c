/* Listening TCP sockets: each connection that comes in becomes a plain
 * mc_stream handed to the owner. */
#include <stdlib.h>
#include <string.h>

#include "net/stream_private.h"

/* Connections the kernel keeps waiting for accept. */
#define MC_TCP_BACKLOG 16

struct mc_tcp_listener {
  uv_tcp_t tcp;
  mc_tcp_accept_cb cb;
  void *user;
  bool closed;
};

static void on_connection(uv_stream_t *server, int status) {
  mc_tcp_listener *l = server->data;
  if (l->closed) return;
  if (status != 0) {
    MC_LOGD("tcp", "accept failed err=%s", uv_strerror(status));
    return;
  }
  mc_stream *s;
  if (mc_stream_accept(server, &s) != 0) return;
  mc_addr peer;
  mc_stream_peer_addr(s, &peer);
  l->cb(l, s, &peer, l->user);
  /* The callee either set callbacks or closed it (then this is a no-op). */
  if (mc_stream_start_reading(s) != 0) MC_LOGD("tcp", "accepted stream cannot read");
}

static void on_close(uv_handle_t *h) { free(h->data); }

int mc_tcp_listen(uv_loop_t *loop, const mc_addr *bind_addr, mc_tcp_accept_cb cb, void *user, mc_tcp_listener **out) {
  if (!loop || !bind_addr || !cb || !out || mc_addr_family(bind_addr) == AF_UNSPEC) return MC_EINVAL;
  *out = NULL;
  mc_tcp_listener *l = calloc(1, sizeof *l);
  if (!l) return MC_ENOMEM;
  l->cb = cb;
  l->user = user;
  if (uv_tcp_init(loop, &l->tcp) != 0) {
    free(l);
    return MC_EIO;
  }
  l->tcp.data = l;
  int rc = uv_tcp_bind(&l->tcp, &bind_addr->u.sa, mc_addr_family(bind_addr) == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, MC_TCP_BACKLOG, on_connection);
  if (rc != 0) {
    char as[MC_ADDR_STRLEN];
    MC_LOGW("tcp", "listen failed addr=%s err=%s", mc_addr_str(bind_addr, as), uv_strerror(rc));
    l->closed = true;
    uv_close((uv_handle_t *)&l->tcp, on_close);
    return MC_EIO;
  }
  *out = l;
  return 0;
}

int mc_tcp_listener_local_addr(mc_tcp_listener *l, mc_addr *out) {
  if (!l || !out) return MC_EINVAL;
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &n) != 0) return MC_EIO;
  return mc_addr_from_sockaddr((struct sockaddr *)&ss, out);
}

void mc_tcp_listener_close(mc_tcp_listener *l) {
  if (!l || l->closed) return;
  l->closed = true;
  uv_close((uv_handle_t *)&l->tcp, on_close);
}
