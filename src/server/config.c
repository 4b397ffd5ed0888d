/* medcall-server options: one table gives the command line, the config file
 * and --help the same names. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"
#include "turn/turn.h"
#include "util/util.h"

enum opt_kind {
  OPT_STR,
  OPT_FLAG,
  OPT_U32,
  OPT_DURATION,
  OPT_SIZE,
  OPT_LISTEN,
  OPT_METRICS_LISTEN,
  OPT_TURN_URL,
  OPT_CONFIG,
  OPT_HELP,
  OPT_VERSION,
};

struct opt {
  const char *name;
  enum opt_kind kind;
  size_t offset;
  const char *arg;
  const char *help;
};

#define OFF(f) offsetof(struct mc_server_config, f)

static const struct opt opts[] = {
    {"listen", OPT_LISTEN, 0, "ADDR:PORT[,...]",
     "Addresses and ports for HTTPS and WSS together, comma-separated (default 0.0.0.0:8443). IPv6 as [::1]:8443; "
     "[::]:8443 is every IPv6 address only; give 0.0.0.0:8443,[::]:8443 for both."},
    {"cert", OPT_STR, OFF(cert_path), "FILE", "PEM certificate chain to serve (with --key). Without it a self-signed "
                                              "ECDSA P-256 certificate is made once and kept in the state directory."},
    {"key", OPT_STR, OFF(key_path), "FILE", "PEM private key of --cert."},
    {"state-dir", OPT_STR, OFF(state_dir), "DIR",
     "Where the self-signed certificate and the rooms kept across a restart live (default $XDG_STATE_HOME/medcall or "
     "~/.local/state/medcall)."},
    {"web-root", OPT_STR, OFF(web_root), "DIR",
     "Directory of the patient page; /r/ROOM serves its room.html (default " MEDCALL_WEB_ROOT_INSTALLED
     " when installed, else the source tree's assets/web)."},
    {"public-url", OPT_STR, OFF(public_url), "URL",
     "Base of the room links, e.g. https://call.clinic.example:8443 (default: the Host the doctor connected to)."},
    {"doctor-token", OPT_STR, OFF(doctor_token), "TOKEN",
     "Secret a doctor's app sends to create rooms. Prefer the config file: the command line is visible to other users."},
    {"open", OPT_FLAG, OFF(open), NULL, "Let any client create rooms (the single-machine demo); no doctor token."},
    {"room-ttl", OPT_DURATION, OFF(room_ttl_s), "DURATION",
     "An unused room link expires this long after it was made or last used (default 24h)."},
    {"grace", OPT_DURATION, OFF(grace_s), "DURATION",
     "A peer whose connection dropped keeps its place this long and may resume with its session id (default 30s)."},
    {"turn-url", OPT_TURN_URL, 0, "URL",
     "A STUN/TURN server handed to admitted peers, e.g. turn:turn.example:3478?transport=udp. Repeatable, at "
     "most 8: a pool, handed out in this order, the first preferred."},
    {"turn-secret", OPT_STR, OFF(turn_secret), "SECRET",
     "Shared secret of coturn's use-auth-secret: time-limited credentials by the TURN REST convention."},
    {"turn-ttl", OPT_DURATION, OFF(turn_ttl_s), "DURATION", "Lifetime of TURN REST credentials of admitted peers (default 24h); the pre-call check's last 5 minutes."},
    {"turn-user", OPT_STR, OFF(turn_user), "USER", "Static TURN username (instead of --turn-secret)."},
    {"turn-password", OPT_STR, OFF(turn_password), "PASSWORD", "Static TURN password, with --turn-user."},
    {"max-message", OPT_SIZE, OFF(max_message), "BYTES",
     "Largest WebSocket message accepted (default 65536); larger ones are answered with too-big."},
    {"rate", OPT_U32, OFF(rate), "N", "Messages per second one connection may send on average (default 20)."},
    {"burst", OPT_U32, OFF(burst), "N", "Messages one connection may send at once above the rate (default 40)."},
    {"ip-rate", OPT_U32, OFF(ip_rate), "N", "Messages per second from one IP address (default 200)."},
    {"ip-burst", OPT_U32, OFF(ip_burst), "N", "Burst from one IP address (default 400)."},
    {"max-conns-per-ip", OPT_U32, OFF(max_conns_per_ip), "N", "Open WebSockets from one IP address (default 64)."},
    {"max-conns", OPT_U32, OFF(max_conns), "N", "Open WebSockets in total (default 20000)."},
    {"max-rooms", OPT_U32, OFF(max_rooms), "N", "Rooms at once (default 10000)."},
    {"max-queue", OPT_SIZE, OFF(max_queue), "BYTES",
     "Bytes waiting for a slow client before it is disconnected (default 1048576)."},
    {"idle-ping", OPT_DURATION, OFF(idle_ping_s), "DURATION",
     "A WebSocket silent this long is sent a ping (default 20s)."},
    {"idle-timeout", OPT_DURATION, OFF(idle_timeout_s), "DURATION",
     "A WebSocket that sent nothing, not even a pong, for this long is closed (default 40s); longer than --idle-ping."},
    {"drain-timeout", OPT_DURATION, OFF(drain_timeout_s), "DURATION",
     "On SIGTERM, clients are told to reconnect (goaway) and the rooms are saved; the server exits once they have "
     "left or after this long (default 10s)."},
    {"handshake-timeout", OPT_DURATION, OFF(handshake_timeout_s), "DURATION",
     "A new connection has this long for its TLS handshake and first request (default 10s)."},
    {"metrics-listen", OPT_METRICS_LISTEN, 0, "ADDR:PORT[,...]",
     "Serve /healthz and /metrics (Prometheus text format) over plain HTTP there, e.g. 127.0.0.1:9464 (default: "
     "off). Keep it off the internet."},
    {"audit-log", OPT_STR, OFF(audit_log), "FILE",
     "Append one JSON line per room event (created, knocked, admitted, ended...) with time, role, address and a "
     "keyed hash of the room; never names, links or tokens. Reopened on SIGHUP."},
    {"config", OPT_CONFIG, 0, "FILE",
     "Read options from FILE: one \"name = value\" per line, names as above; '#' starts a comment at the start of a "
     "line or after a space."},
    {"version", OPT_VERSION, 0, NULL, "Print the version."},
    {"help", OPT_HELP, 0, NULL, "Print this help (also -h)."},
};

void mc_server_config_init(struct mc_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->port = MC_SERVER_DEFAULT_PORT;
  cfg->room_ttl_s = MC_SERVER_DEFAULT_ROOM_TTL_S;
  cfg->grace_s = MC_SERVER_DEFAULT_GRACE_S;
  cfg->turn_ttl_s = MC_SERVER_DEFAULT_TURN_TTL_S;
  cfg->max_message = MC_SIGNAL_DEFAULT_MAX_MESSAGE;
  cfg->rate = 20;
  cfg->burst = 40;
  cfg->ip_rate = 200;
  cfg->ip_burst = 400;
  cfg->max_conns_per_ip = 64;
  cfg->max_conns = 20000;
  cfg->max_rooms = 10000;
  cfg->max_queue = 1 << 20;
  cfg->idle_ping_s = MC_SERVER_DEFAULT_IDLE_PING_S;
  cfg->idle_timeout_s = MC_SERVER_DEFAULT_IDLE_TIMEOUT_S;
  cfg->drain_timeout_s = MC_SERVER_DEFAULT_DRAIN_TIMEOUT_S;
  cfg->handshake_timeout_s = MC_SERVER_DEFAULT_HANDSHAKE_TIMEOUT_S;
  /* The installed page when there is one; a build tree serves its own. */
  cfg->web_root = strdup(access(MEDCALL_WEB_ROOT_INSTALLED "/room.html", R_OK) == 0 ? MEDCALL_WEB_ROOT_INSTALLED
                                                                                     : MEDCALL_WEB_ROOT_SOURCE);
}

void mc_server_config_free(struct mc_server_config *cfg) {
  for (size_t i = 0; i < MC_ARRAY_LEN(opts); i++)
    if (opts[i].kind == OPT_STR) {
      char **p = (char **)((char *)cfg + opts[i].offset);
      free(*p);
      *p = NULL;
    }
  free(cfg->listen_host);
  for (size_t i = 0; i < cfg->n_turn_urls; i++) free(cfg->turn_urls[i]);
  memset(cfg, 0, sizeof *cfg);
}

void mc_server_usage(FILE *out) {
  fprintf(out, "usage: medcall-server [OPTIONS]\n\n"
               "Signaling server for medcall: room links, the waiting room, TURN credentials and the\n"
               "patient's web page, over HTTPS and WSS on one port.\n\n");
  for (size_t i = 0; i < MC_ARRAY_LEN(opts); i++) {
    char head[64];
    snprintf(head, sizeof head, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
    fprintf(out, "  %-26s %s\n", head, opts[i].help);
  }
  fprintf(out, "\nDurations: seconds, or a number followed by s, m, h or d. Exactly one of --doctor-token\n"
               "and --open is needed. Logs go to stderr (MEDCALL_LOG=debug|info|warn|error).\n");
}

static int fail(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t cap, const char *fmt, ...) {
  if (why && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
  }
  return MC_EINVAL;
}

int mc_server_parse_duration(const char *text, uint32_t *out_s) {
  if (!text || !isdigit((unsigned char)text[0])) return MC_EINVAL;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno) return MC_EINVAL;
  unsigned long long mult = 1;
  if (*end == 's') end++;
  else if (*end == 'm') mult = 60, end++;
  else if (*end == 'h') mult = 3600, end++;
  else if (*end == 'd') mult = 86400, end++;
  if (*end != '\0' || v > UINT32_MAX / mult) return MC_EINVAL;
  *out_s = (uint32_t)(v * mult);
  return MC_OK;
}

static int parse_u64(const char *text, unsigned long long max, unsigned long long *out) {
  if (!text || !isdigit((unsigned char)text[0])) return MC_EINVAL;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || v > max) return MC_EINVAL;
  *out = v;
  return MC_OK;
}

/* One "ADDR:PORT", "[V6]:PORT", or ":PORT" for all IPv4 addresses; the
 * address must be numeric (the server binds exactly there). */
static int parse_listen_one(const char *name, const char *v, size_t len, struct mc_listen_addr *out, char *why,
                            size_t cap) {
  char item[96];
  if (len == 0 || len >= sizeof item)
    return fail(why, cap, "--%s wants ADDR:PORT (e.g. 0.0.0.0:8443 or [::1]:8443), not \"%.*s\".", name,
                (int)MC_MIN(len, 80), v);
  memcpy(item, v, len);
  item[len] = '\0';
  char *colon = strrchr(item, ':');
  unsigned long long port;
  if (!colon || parse_u64(colon + 1, 65535, &port) < 0 || port == 0)
    return fail(why, cap, "--%s wants ADDR:PORT (e.g. 0.0.0.0:8443 or [::1]:8443), not \"%s\".", name, item);
  *colon = '\0';
  char *h = item;
  size_t hl = strlen(h);
  bool bracketed = hl >= 2 && h[0] == '[' && h[hl - 1] == ']';
  if (bracketed) h[hl - 1] = '\0', h++;
  unsigned char probe[16];
  if (!*h) h = "0.0.0.0";
  bool v4 = inet_pton(AF_INET, h, probe) == 1, v6 = inet_pton(AF_INET6, h, probe) == 1;
  if ((!v4 && !v6) || (v6 && !bracketed))
    return fail(why, cap, "--%s: \"%s\" is not a numeric address (IPv4 as 192.0.2.1:8443, IPv6 as [::1]:8443).",
                name, h);
  mc_strcpy(out->host, sizeof out->host, h);
  out->port = (uint16_t)port;
  return MC_OK;
}

/* A comma-separated list of addresses; it replaces the one given before. */
static int parse_listen(const char *name, const char *v, struct mc_listen_addr *list, size_t *n, char *why,
                        size_t cap) {
  struct mc_listen_addr parsed[MC_SERVER_MAX_LISTEN];
  memset(parsed, 0, sizeof parsed); /* compared whole on SIGHUP */
  size_t count = 0;
  for (const char *p = v;;) {
    size_t len = strcspn(p, ",");
    if (count == MC_SERVER_MAX_LISTEN) return fail(why, cap, "--%s takes at most %d addresses.", name, MC_SERVER_MAX_LISTEN);
    int rc = parse_listen_one(name, p, len, &parsed[count], why, cap);
    if (rc < 0) return rc;
    for (size_t i = 0; i < count; i++)
      if (parsed[i].port == parsed[count].port && !strcmp(parsed[i].host, parsed[count].host))
        return fail(why, cap, "--%s names %.*s twice.", name, (int)len, p);
    count++;
    if (!p[len]) break;
    p += len + 1;
  }
  memcpy(list, parsed, count * sizeof parsed[0]);
  *n = count;
  return MC_OK;
}

/* listen_host and port mirror the first --listen address. */
static int mirror_first_listen(struct mc_server_config *cfg) {
  if (cfg->n_listen == 0) {
    mc_strcpy(cfg->listen[0].host, sizeof cfg->listen[0].host, "0.0.0.0");
    cfg->listen[0].port = MC_SERVER_DEFAULT_PORT;
    cfg->n_listen = 1;
  }
  char *host = strdup(cfg->listen[0].host);
  if (!host) return MC_ENOMEM;
  free(cfg->listen_host);
  cfg->listen_host = host;
  cfg->port = cfg->listen[0].port;
  return MC_OK;
}

static int parse_flag(const char *v, bool *out) {
  if (!v || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *out = true;
  else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *out = false;
  else return MC_EINVAL;
  return MC_OK;
}

static const struct opt *find_opt(const char *name) {
  for (size_t i = 0; i < MC_ARRAY_LEN(opts); i++)
    if (!strcmp(opts[i].name, name)) return &opts[i];
  return NULL;
}

int mc_server_config_set(struct mc_server_config *cfg, const char *name, const char *value, char *why,
                         size_t why_cap) {
  const struct opt *o = find_opt(name);
  unsigned long long n;
  if (!o) return fail(why, why_cap, "Unknown option \"%s\"; see --help.", name);
  if (o->arg && !value) return fail(why, why_cap, "--%s needs a value (%s).", name, o->arg);
  void *field = (char *)cfg + o->offset;
  switch (o->kind) {
  case OPT_STR: {
    char *copy = strdup(value);
    if (!copy) return MC_ENOMEM;
    free(*(char **)field);
    *(char **)field = copy;
    return MC_OK;
  }
  case OPT_FLAG:
    if (parse_flag(value, (bool *)field) < 0) return fail(why, why_cap, "--%s takes true or false.", name);
    return MC_OK;
  case OPT_U32:
    if (parse_u64(value, UINT32_MAX, &n) < 0 || n == 0)
      return fail(why, why_cap, "--%s wants a positive whole number, not \"%s\".", name, value);
    *(uint32_t *)field = (uint32_t)n;
    return MC_OK;
  case OPT_SIZE:
    if (parse_u64(value, 1ull << 30, &n) < 0 || n < 256)
      return fail(why, why_cap, "--%s wants a byte count from 256 to 1073741824, not \"%s\".", name, value);
    *(size_t *)field = (size_t)n;
    return MC_OK;
  case OPT_DURATION:
    if (mc_server_parse_duration(value, (uint32_t *)field) < 0 || *(uint32_t *)field == 0)
      return fail(why, why_cap, "--%s wants a duration such as 30s, 5m or 24h, not \"%s\".", name, value);
    return MC_OK;
  case OPT_LISTEN: {
    int rc = parse_listen(name, value, cfg->listen, &cfg->n_listen, why, why_cap);
    return rc < 0 ? rc : mirror_first_listen(cfg);
  }
  case OPT_METRICS_LISTEN:
    return parse_listen(name, value, cfg->metrics_listen, &cfg->n_metrics_listen, why, why_cap);
  case OPT_TURN_URL: {
    mc_ice_url url;
    char reason[200];
    if (mc_ice_url_parse(value, strlen(value), &url, reason, sizeof reason) < 0)
      return fail(why, why_cap, "--turn-url \"%s\": %s", value, reason);
    if (cfg->n_turn_urls >= MC_SERVER_MAX_TURN_URLS)
      return fail(why, why_cap,
                  "--turn-url \"%s\": at most %d TURN URLs, the most an app uses; drop the least preferred (the last).",
                  value, MC_SERVER_MAX_TURN_URLS);
    char *copy = strdup(value);
    if (!copy) return MC_ENOMEM;
    cfg->turn_urls[cfg->n_turn_urls++] = copy;
    return MC_OK;
  }
  case OPT_CONFIG:
    return mc_server_config_load(cfg, value, why, why_cap);
  case OPT_HELP:
    cfg->help = true;
    return MC_OK;
  case OPT_VERSION:
    cfg->version = true;
    return MC_OK;
  }
  return MC_EINVAL;
}

static int set_from_file(const char *name, const char *value, void *user, char *why, size_t why_cap) {
  if (!strcmp(name, "config") || !strcmp(name, "help") || !strcmp(name, "version"))
    return fail(why, why_cap, "\"%s\" is not allowed in a config file.", name);
  return mc_server_config_set(user, name, value, why, why_cap);
}

int mc_server_config_load(struct mc_server_config *cfg, const char *path, char *why, size_t why_cap) {
  return mc_conf_read(path, set_from_file, cfg, why, why_cap);
}

int mc_server_config_load_text(struct mc_server_config *cfg, const uint8_t *text, size_t len, const char *origin,
                               char *why, size_t why_cap) {
  return mc_conf_parse(text, len, origin, set_from_file, cfg, why, why_cap);
}

int mc_server_config_check(const struct mc_server_config *cfg, char *why, size_t why_cap) {
  if (!cfg->open && !(cfg->doctor_token && cfg->doctor_token[0]))
    return fail(why, why_cap, "Give --doctor-token TOKEN (doctors create rooms with it) or --open (anyone may).");
  if (cfg->open && cfg->doctor_token)
    return fail(why, why_cap, "--open and --doctor-token exclude each other; choose one.");
  if (!cfg->cert_path != !cfg->key_path) return fail(why, why_cap, "--cert and --key go together.");
  if (cfg->turn_secret && (cfg->turn_user || cfg->turn_password))
    return fail(why, why_cap, "Use either --turn-secret or --turn-user/--turn-password, not both.");
  if (!cfg->turn_user != !cfg->turn_password) return fail(why, why_cap, "--turn-user and --turn-password go together.");
  if ((cfg->turn_secret || cfg->turn_user) && cfg->n_turn_urls == 0)
    return fail(why, why_cap, "TURN credentials are configured but no --turn-url to use them with.");
  if (cfg->public_url && strncmp(cfg->public_url, "https://", 8) != 0)
    return fail(why, why_cap, "--public-url must start with https:// (browsers need a secure page for the camera).");
  if (cfg->max_message > cfg->max_queue)
    return fail(why, why_cap, "--max-queue must be at least --max-message.");
  if (cfg->idle_timeout_s <= cfg->idle_ping_s)
    return fail(why, why_cap, "--idle-timeout must be longer than --idle-ping, or the ping could not be answered.");
  return MC_OK;
}

int mc_server_config_parse_args(struct mc_server_config *cfg, int argc, char **argv, char *why, size_t why_cap) {
  int rc;
  cfg->argc = argc;
  cfg->argv = argv;
  /* The file first, so the command line overrides it. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--config") && i + 1 < argc) {
      if ((rc = mc_server_config_load(cfg, argv[i + 1], why, why_cap)) < 0) return rc;
      i++;
    } else if (!strncmp(a, "--config=", 9)) {
      if ((rc = mc_server_config_load(cfg, a + 9, why, why_cap)) < 0) return rc;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h")) a = "--help";
    if (strncmp(a, "--", 2) != 0) return fail(why, why_cap, "Unexpected argument \"%s\"; see --help.", a);
    char name[64];
    const char *value = NULL;
    const char *eq = strchr(a + 2, '=');
    size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (nl >= sizeof name) return fail(why, why_cap, "Unknown option \"%.40s\"; see --help.", a);
    memcpy(name, a + 2, nl);
    name[nl] = '\0';
    const struct opt *o = find_opt(name);
    if (!o) return fail(why, why_cap, "Unknown option \"--%s\"; see --help.", name);
    if (eq) value = eq + 1;
    else if (o->arg) {
      if (i + 1 >= argc) return fail(why, why_cap, "--%s needs a value (%s).", name, o->arg);
      value = argv[++i];
    }
    if (o->kind == OPT_CONFIG) continue;
    if ((rc = mc_server_config_set(cfg, name, value, why, why_cap)) < 0) return rc;
  }
  if (cfg->help || cfg->version) return MC_OK;
  if ((rc = mirror_first_listen(cfg)) < 0) return rc;
  return mc_server_config_check(cfg, why, why_cap);
}

static bool same_str(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

int mc_server_config_reload(struct mc_server_config *cfg, char *why, size_t why_cap) {
  struct mc_server_config fresh;
  mc_server_config_init(&fresh);
  int rc = mc_server_config_parse_args(&fresh, cfg->argc, cfg->argv, why, why_cap);
  if (rc < 0) {
    mc_server_config_free(&fresh);
    return rc;
  }
  bool moved = fresh.n_listen != cfg->n_listen || memcmp(fresh.listen, cfg->listen, sizeof cfg->listen) != 0 ||
               fresh.n_metrics_listen != cfg->n_metrics_listen ||
               memcmp(fresh.metrics_listen, cfg->metrics_listen, sizeof cfg->metrics_listen) != 0 ||
               !same_str(fresh.state_dir, cfg->state_dir);
  /* The sockets and the state directory stay as they were started. */
  char *keep_host = cfg->listen_host, *keep_dir = cfg->state_dir;
  cfg->listen_host = fresh.listen_host;
  cfg->state_dir = fresh.state_dir;
  fresh.listen_host = keep_host;
  fresh.state_dir = keep_dir;
  fresh.port = cfg->port;
  memcpy(fresh.listen, cfg->listen, sizeof cfg->listen);
  fresh.n_listen = cfg->n_listen;
  memcpy(fresh.metrics_listen, cfg->metrics_listen, sizeof cfg->metrics_listen);
  fresh.n_metrics_listen = cfg->n_metrics_listen;
  mc_server_config_free(cfg);
  *cfg = fresh;
  if (moved) snprintf(why, why_cap, "--listen, --metrics-listen and --state-dir take effect only at a restart");
  else if (why_cap) why[0] = '\0';
  return MC_OK;
}

int mc_server_snapshot_path(const struct mc_server_config *cfg, char *out, size_t cap) {
  char dir[4096];
  int rc = mc_state_dir(cfg->state_dir, dir, sizeof dir);
  if (rc < 0) return rc;
  int n = snprintf(out, cap, "%s/rooms-%u.json", dir, cfg->port);
  return n > 0 && (size_t)n < cap ? MC_OK : MC_ETOOBIG;
}
