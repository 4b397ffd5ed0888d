/* UDP sockets on the net loop. */
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

/* Enough to ride out a burst of video at a few Mbit/s while the loop is busy. */
#define MC_UDP_RCVBUF (1024 * 1024)
#define MC_UDP_MAX_DATAGRAM 65536

struct mc_udp {
  uv_udp_t handle;
  mc_udp_recv_cb cb;
  void *user;
  bool closing;
  uint8_t rx[MC_UDP_MAX_DATAGRAM];
};

struct udp_send_req {
  uv_udp_send_t req;
  size_t len;
  uint8_t data[];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  mc_udp *s = h->data;
  buf->base = (char *)s->rx;
  buf->len = sizeof s->rx;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags) {
  (void)buf;
  mc_udp *s = h->data;
  if (s->closing || nread <= 0 || !from) {
    if (nread < 0 && !s->closing) MC_LOGD("udp", "receive error err=%s", uv_strerror((int)nread));
    return;
  }
  if (flags & UV_UDP_PARTIAL) {
    MC_LOGD("udp", "dropped truncated datagram len=%zd", nread);
    return;
  }
  mc_addr a;
  if (mc_addr_from_sockaddr(from, &a) != 0) return;
  s->cb(s, &a, s->rx, (size_t)nread, s->user);
}

static void on_close(uv_handle_t *h) { free(h->data); }

int mc_udp_open(uv_loop_t *loop, const mc_addr *bind_addr, mc_udp_recv_cb cb, void *user, mc_udp **out) {
  if (!loop || !bind_addr || !cb || !out) return MC_EINVAL;
  int fam = mc_addr_family(bind_addr);
  if (fam == AF_UNSPEC) return MC_EINVAL;
  *out = NULL;
  mc_udp *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  s->cb = cb;
  s->user = user;
  s->handle.data = s;
  char as[MC_ADDR_STRLEN];
  int rc = uv_udp_init_ex(loop, &s->handle, (unsigned)fam);
  if (rc != 0) {
    free(s);
    MC_LOGW("udp", "socket failed err=%s", uv_strerror(rc));
    return MC_EIO;
  }
  /* No UV_UDP_REUSEADDR: two agents must never share a port by accident.
   * IPv6 sockets are v6-only so IPv4 and IPv6 candidates stay distinct. */
  unsigned flags = fam == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
  rc = uv_udp_bind(&s->handle, &bind_addr->u.sa, flags);
  if (rc != 0) {
    MC_LOGW("udp", "bind failed addr=%s err=%s", mc_addr_str(bind_addr, as), uv_strerror(rc));
    goto fail;
  }
  int size = MC_UDP_RCVBUF;
  rc = uv_recv_buffer_size((uv_handle_t *)&s->handle, &size);
  if (rc != 0) MC_LOGD("udp", "could not raise receive buffer err=%s", uv_strerror(rc));
  rc = uv_udp_recv_start(&s->handle, on_alloc, on_recv);
  if (rc != 0) {
    MC_LOGW("udp", "receive start failed err=%s", uv_strerror(rc));
    goto fail;
  }
  *out = s;
  return 0;
fail:
  s->closing = true;
  uv_close((uv_handle_t *)&s->handle, on_close);
  return MC_EIO;
}

static void on_sent(uv_udp_send_t *req, int status) {
  struct udp_send_req *r = (struct udp_send_req *)req;
  if (status != 0 && status != UV_ECANCELED) MC_LOGD("udp", "queued send failed len=%zu err=%s", r->len, uv_strerror(status));
  free(r);
}

int mc_udp_send(mc_udp *s, const mc_addr *to, const uint8_t *data, size_t len) {
  if (!s || !to || (!data && len > 0) || len > MC_UDP_MAX_DATAGRAM) return MC_EINVAL;
  if (s->closing) return MC_ECLOSED;
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  int rc = uv_udp_try_send(&s->handle, &b, 1, &to->u.sa);
  if (rc >= 0) return 0;
  if (rc != UV_EAGAIN && rc != UV_ENOSYS) {
    char as[MC_ADDR_STRLEN];
    MC_LOGD("udp", "send refused to=%s len=%zu err=%s", mc_addr_str(to, as), len, uv_strerror(rc));
    return MC_EIO;
  }
  /* The kernel buffer is full (or earlier sends are queued): queue a copy so
   * the caller never blocks and may reuse its buffer at once. */
  struct udp_send_req *r = malloc(sizeof *r + len);
  if (!r) return MC_ENOMEM;
  r->len = len;
  if (len) memcpy(r->data, data, len);
  b = uv_buf_init((char *)r->data, (unsigned)len);
  rc = uv_udp_send(&r->req, &s->handle, &b, 1, &to->u.sa, on_sent);
  if (rc != 0) {
    free(r);
    return MC_EIO;
  }
  return 0;
}

int mc_udp_local_addr(mc_udp *s, mc_addr *out) {
  if (!s || !out) return MC_EINVAL;
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (uv_udp_getsockname(&s->handle, (struct sockaddr *)&ss, &n) != 0) return MC_EIO;
  return mc_addr_from_sockaddr((struct sockaddr *)&ss, out);
}

void mc_udp_close(mc_udp *s) {
  if (!s || s->closing) return;
  s->closing = true;
  s->cb = NULL;
  uv_udp_recv_stop(&s->handle);
  uv_close((uv_handle_t *)&s->handle, on_close);
}
