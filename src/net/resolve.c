/* Host name resolution through libuv's thread pool getaddrinfo. */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

#define MC_RESOLVE_MAX 16

struct mc_resolve_req {
  uv_getaddrinfo_t gai;
  uv_timer_t timer; /* numeric hosts: answer on the next loop turn */
  bool numeric;
  bool cancelled;
  bool done;
  mc_resolve_cb cb;
  void *user;
  int family;
  uint16_t port;
  mc_addr addr;
  char host[256];
};

static void add_unique(mc_addr *list, size_t *n, const mc_addr *a) {
  for (size_t i = 0; i < *n; i++)
    if (mc_addr_equal(&list[i], a)) return;
  if (*n < MC_RESOLVE_MAX) list[(*n)++] = *a;
}

static void on_gai(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
  mc_resolve_req *r = g->data;
  mc_addr list[MC_RESOLVE_MAX];
  size_t n = 0;
  if (status == 0) {
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
      mc_addr a;
      if (mc_addr_from_sockaddr(ai->ai_addr, &a) != 0) continue;
      if (r->family != AF_UNSPEC && mc_addr_family(&a) != r->family) continue;
      mc_addr_set_port(&a, r->port);
      add_unique(list, &n, &a);
    }
  }
  if (res) uv_freeaddrinfo(res);
  if (!r->cancelled) {
    if (n == 0)
      MC_LOGI("resolve", "no address host=%s err=%s", r->host, status ? uv_strerror(status) : "no match for family");
    r->done = true;
    r->cb(n ? 0 : MC_ERESOLVE, n ? list : NULL, n, r->user);
  }
  free(r);
}

static void on_timer_close(uv_handle_t *h) { free(h->data); }

static void on_numeric(uv_timer_t *t) {
  mc_resolve_req *r = t->data;
  bool match = r->family == AF_UNSPEC || r->family == mc_addr_family(&r->addr);
  r->done = true;
  if (!r->cancelled) r->cb(match ? 0 : MC_ERESOLVE, match ? &r->addr : NULL, match ? 1 : 0, r->user);
  uv_close((uv_handle_t *)&r->timer, on_timer_close);
}

int mc_resolve(uv_loop_t *loop, const char *host, uint16_t port, int family, mc_resolve_cb cb, void *user,
               mc_resolve_req **out) {
  if (!loop || !host || !cb || !host[0]) return MC_EINVAL;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return MC_EINVAL;
  if (out) *out = NULL;
  mc_resolve_req *r = calloc(1, sizeof *r);
  if (!r) return MC_ENOMEM;
  r->cb = cb;
  r->user = user;
  r->family = family;
  r->port = port;
  if (mc_strcpy(r->host, sizeof r->host, host) != 0) {
    free(r);
    return MC_EINVAL;
  }
  if (mc_addr_parse(host, port, &r->addr) == 0) {
    r->numeric = true;
    r->timer.data = r;
    uv_timer_init(loop, &r->timer);
    uv_timer_start(&r->timer, on_numeric, 0, 0);
  } else {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address, not per socket type */
    r->gai.data = r;
    int rc = uv_getaddrinfo(loop, &r->gai, on_gai, host, NULL, &hints);
    if (rc != 0) {
      MC_LOGI("resolve", "lookup failed host=%s err=%s", host, uv_strerror(rc));
      free(r);
      return MC_ERESOLVE;
    }
  }
  if (out) *out = r;
  return 0;
}

void mc_resolve_cancel(mc_resolve_req *r) {
  if (!r || r->cancelled) return;
  r->cancelled = true;
  if (r->done) return; /* called from inside the callback: the owner frees after it */
  if (r->numeric) {
    uv_close((uv_handle_t *)&r->timer, on_timer_close);
  } else {
    /* Best effort: if the lookup already runs in the pool, on_gai still
     * comes, sees cancelled and only frees. */
    uv_cancel((uv_req_t *)&r->gai);
  }
}
