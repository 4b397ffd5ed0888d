/* Local interface addresses for host candidates. */
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

#include "net/net.h"

static bool seen(const mc_addr *list, size_t n, const mc_addr *a) {
  for (size_t i = 0; i < n; i++)
    if (mc_addr_ip_equal(&list[i], a)) return true;
  return false;
}

/* RFC 8445 5.1.1.1: host candidates come from every usable interface; IPv6
 * link-local addresses are left out (they need a scope the peer cannot use),
 * and so is IPv4 link-local 169.254/16. Loopback is kept only as a last resort
 * so an agent alone in a namespace with lo still offers something. */
int mc_net_local_addresses(mc_addr *out, size_t max, size_t *count) {
  if (!count || (!out && max > 0)) return MC_EINVAL;
  *count = 0;
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) != 0) return MC_EIO;
  size_t n = 0;
  mc_addr loop[4];
  size_t nloop = 0;
  for (struct ifaddrs *it = ifs; it; it = it->ifa_next) {
    if (!it->ifa_addr) continue;
    if ((it->ifa_flags & (IFF_UP | IFF_RUNNING)) != (IFF_UP | IFF_RUNNING)) continue;
    int fam = it->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    mc_addr a;
    if (mc_addr_from_sockaddr(it->ifa_addr, &a) != 0) continue;
    mc_addr_set_port(&a, 0);
    if (mc_addr_is_link_local(&a) || mc_addr_is_any(&a)) continue;
    if ((it->ifa_flags & IFF_LOOPBACK) || mc_addr_is_loopback(&a)) {
      if (nloop < MC_ARRAY_LEN(loop) && !seen(loop, nloop, &a)) loop[nloop++] = a;
      continue;
    }
    if (fam == AF_INET6) a.u.in6.sin6_scope_id = 0;
    if (seen(out, n, &a)) continue;
    if (n < max) out[n++] = a;
  }
  freeifaddrs(ifs);
  if (n == 0) {
    /* IPv4 loopback first: it is what peers in an lo-only namespace use. */
    for (int pass = 0; pass < 2; pass++)
      for (size_t i = 0; i < nloop && n < max; i++)
        if ((pass == 0) == (mc_addr_family(&loop[i]) == AF_INET)) out[n++] = loop[i];
  }
  *count = n;
  return 0;
}
