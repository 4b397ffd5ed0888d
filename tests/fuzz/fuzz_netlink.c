/* rtnetlink datagrams as the interface watcher reads them. */
#include <stdint.h>
#include <string.h>

#include "net/net.h"

struct seen {
  size_t n;
  unsigned ifindex_sum;
};

/* Reads every field reported, so the sanitizers see any that were not
 * written. */
static void on_change(const struct mc_net_change *ch, void *user) {
  struct seen *s = user;
  s->n++;
  s->ifindex_sum += (unsigned)ch->ifindex;
  if (ch->kind == MC_NET_ADDR_ADDED || ch->kind == MC_NET_ADDR_REMOVED) {
    char buf[MC_ADDR_STRLEN];
    mc_addr_str(&ch->addr, buf);
    if (mc_addr_port(&ch->addr) != 0) __builtin_trap(); /* addresses come with port 0 */
  } else if (mc_addr_family(&ch->addr) != AF_UNSPEC) {
    __builtin_trap(); /* link changes carry no address */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct seen s;
  memset(&s, 0, sizeof s);
  int rc = mc_net_parse_netlink(data, size, on_change, &s);
  if (rc != 0 && rc != MC_EPARSE) __builtin_trap();
  /* Each message is at least a 16-byte header and reports at most once. */
  if (s.n > size / 16) __builtin_trap();
  return 0;
}
