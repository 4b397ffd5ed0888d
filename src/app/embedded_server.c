/* medcall call without --server runs medcall-server inside the app (the
 * same code, on a thread of its own), on a free port on every interface so
 * a patient on the same network can open the link, with the self-signed
 * certificate kept in the state directory. Our own client pins that
 * certificate's fingerprint instead of trusting any. Only the app itself
 * creates rooms there: the server wants a doctor token drawn afresh for
 * each run, which never leaves the process (issue 14: anyone on the
 * network could otherwise make rooms on the doctor's machine). The port is
 * kept in the state directory too and taken again at the next start: a
 * doctor's app that was killed and started again serves the same link, and
 * the server's snapshot (rooms-PORT.json) gives the room back (the app
 * resumes its stored session, which needs no token). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "app/app.h"
#include "app/i18n.h"
#include "net/net.h"
#include "server/server.h"
#include "util/util.h"

/* 32 random bytes in hex: the doctor token of one run. */
#define RUN_TOKEN_BYTES 32

struct call_server {
  struct mc_server_config cfg;
  mc_server_thread *thread;
};

/* A TCP port free on every interface right now: want if it is, else any.
 * SO_REUSEADDR as the server's own socket has it, so the port of a killed
 * run (its connections in TIME_WAIT) counts as free. */
static int free_port(uint16_t want, uint16_t *out) {
  for (int attempt = want ? 0 : 1; attempt < 2; attempt++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return MC_EIO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY),
                            .sin_port = htons(attempt == 0 ? want : 0)};
    socklen_t len = sizeof a;
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0;
    close(fd);
    if (ok) {
      *out = ntohs(a.sin_port);
      return 0;
    }
  }
  return MC_EIO;
}

/* The address a patient on this network would reach: the first IPv4
 * interface address, else loopback. */
static void link_host(char *out, size_t cap) {
  mc_addr addrs[16];
  size_t n = 0;
  char ip[MC_ADDR_STRLEN];
  mc_strcpy(out, cap, "127.0.0.1");
  if (mc_net_local_addresses(addrs, MC_ARRAY_LEN(addrs), &n) != 0) return;
  for (size_t i = 0; i < n; i++)
    if (mc_addr_family(&addrs[i]) == AF_INET && !mc_addr_is_loopback(&addrs[i])) {
      mc_strcpy(out, cap, mc_addr_ip_str(&addrs[i], ip));
      return;
    }
}

int call_server_start(struct call_server **out, char *ws_url, size_t ws_cap, uint8_t pin[32]) {
  struct call_server *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  mc_server_config_init(&s->cfg);
  uint16_t port = 0, last = 0;
  char host[64], why[256], url[128], state[4096], port_file[4200];
  bool have_state = mc_state_dir(NULL, state, sizeof state) == 0;
  snprintf(port_file, sizeof port_file, "%s/embedded-server-port", have_state ? state : "");
  char *text = NULL;
  if (have_state && mc_read_file(port_file, 16, &text, NULL) == 0) {
    unsigned long v = strtoul(text, NULL, 10);
    if (v > 0 && v < 65536) last = (uint16_t)v;
  }
  free(text);
  int rc = free_port(last, &port);
  if (rc != 0) {
    fputs(_("medcall: no free TCP port for the built-in signaling server\n"), stderr);
    goto fail;
  }
  link_host(host, sizeof host);
  snprintf(url, sizeof url, "https://%s:%u", host, port);
  char listen[32];
  snprintf(listen, sizeof listen, "0.0.0.0:%u", port);
  uint8_t raw[RUN_TOKEN_BYTES];
  char token[2 * RUN_TOKEN_BYTES + 1];
  if ((rc = mc_random_bytes(raw, sizeof raw)) < 0 || (rc = mc_hex_encode(raw, sizeof raw, token, sizeof token)) < 0) {
    fputs(_("medcall: no randomness for the built-in signaling server's token\n"), stderr);
    goto fail;
  }
  OPENSSL_cleanse(raw, sizeof raw);
  rc = mc_server_config_set(&s->cfg, "doctor-token", token, why, sizeof why);
  OPENSSL_cleanse(token, sizeof token);
  /* The page: MEDCALL_WEB_ROOT, else the server's default (installed, or this source tree's). */
  const char *web = getenv("MEDCALL_WEB_ROOT");
  if (rc < 0 || (rc = mc_server_config_set(&s->cfg, "listen", listen, why, sizeof why)) < 0 ||
      (web && *web && (rc = mc_server_config_set(&s->cfg, "web-root", web, why, sizeof why)) < 0) ||
      (rc = mc_server_config_set(&s->cfg, "public-url", url, why, sizeof why)) < 0) {
    fprintf(stderr, _("medcall: the built-in signaling server: %s\n"), why);
    goto fail;
  }
  char cert[4096], key[4096], fp[128];
  bool generated = false;
  rc = mc_server_cert_ensure(&s->cfg, cert, sizeof cert, key, sizeof key, fp, sizeof fp, &generated);
  if (rc < 0) {
    fprintf(stderr, _("medcall: cannot create the built-in server's certificate in the state directory (%s)\n"),
            app_strerror(rc));
    goto fail;
  }
  /* "AB:CD:..." -> 32 bytes */
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(fp + i * 3, "%2x", &v) != 1) {
      rc = MC_EPARSE;
      goto fail;
    }
    pin[i] = (uint8_t)v;
  }
  rc = mc_server_start_thread(&s->cfg, &s->thread);
  if (rc != 0) {
    fprintf(stderr, _("medcall: the built-in signaling server did not start on port %u\n"), port);
    goto fail;
  }
  snprintf(ws_url, ws_cap, "wss://127.0.0.1:%u/ws", port);
  /* docs/app.md "Lines on standard output" */
  printf("listen: %s (every IPv4 interface: patients on this network can open the link)\n", listen);
  /* The certificate is self-signed: whoever connects from elsewhere (a
   * browser, `medcall join --server-pin`, a client of docs/signaling.md)
   * verifies it by this fingerprint, read to them out of band. The form is
   * the one --server-pin takes. */
  printf("server-fingerprint: SHA-256 %s\n", fp);
  fflush(stdout);
  if (have_state && port != last) {
    char num[16];
    snprintf(num, sizeof num, "%u\n", port);
    mc_write_file_atomic(port_file, num, strlen(num), 0600);
  }
  *out = s;
  return 0;
fail:
  mc_server_config_free(&s->cfg);
  free(s);
  return rc < 0 ? rc : MC_EIO;
}

const char *call_server_token(const struct call_server *s) { return s ? s->cfg.doctor_token : NULL; }

void call_server_stop(struct call_server *s) {
  if (!s) return;
  mc_server_stop_thread(s->thread);
  mc_server_config_free(&s->cfg);
  free(s);
}
