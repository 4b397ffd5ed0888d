/* signal_load: load bench for medcall-server (issue 3 item 8).
 *
 * Starts the real medcall-server on 127.0.0.1 (a fresh state dir, limits
 * lifted with its documented options), opens N WSS connections from one
 * epoll thread (OpenSSL, a minimal RFC 6455 client), pairs them into N/2
 * rooms through the protocol of docs/signaling.md (create, join, knock,
 * admit), then relays `candidate` messages between the two peers of each
 * room and measures the relay latency: send time to receive time on the same
 * monotonic clock, so it includes the client's own TLS work on the same two
 * cores. Phases: one message in flight at a time, then each rate of -r.
 * Prints connections held, latency p50/p99/max, lost or altered messages,
 * server RSS (/proc/PID/status) and CPU. A benchmark: it never fails on time;
 * it exits 1 only when the server cannot be started.
 *
 * usage: signal_load SERVER [-n CONNS] [-r RATE[,RATE...]] [-d SECONDS]
 *                           [-s SOURCES] [-k SERIAL_MSGS]
 * defaults: -n 10000 -r 1000,4000 -d 15 -s 1 -k 2000 (see bench/README.md)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bench constants in one place. */
#define MAX_INFLIGHT_CONNECTS 256 /* TCP+TLS+upgrade at once: keeps the listen backlog from overflowing */
#define RAMP_LIMIT_S 120          /* give up waiting for rooms after this */
#define DRAIN_S 5                 /* wait this long for messages still in flight after a phase */
#define NOFILE_WANT 65536         /* 10,000 connections need ulimit -n above 10,000 (docs/server.md) */
#define RBUF_CAP 16384

enum cstate { C_IDLE, C_TCP, C_TLS, C_UPGRADE, C_OPEN, C_CLOSED };
enum role { DOCTOR, PATIENT };

struct conn {
  int fd;
  SSL *ssl;
  enum cstate st;
  int room;
  enum role role;
  bool admitted;
  uint8_t *rbuf; /* TLS plaintext not yet parsed */
  size_t rlen;
  uint8_t *wbuf; /* frames SSL_write has not taken yet */
  size_t wlen, wcap;
  bool want_out;
  char key_accept[32];
};

struct room {
  int doctor, patient;
  char id[80];
  bool joined, admitted;
  uint32_t sent[2], recv[2]; /* per direction: 0 doctor->patient, 1 patient->doctor */
};

static struct conn *conns;
static struct room *rooms;
static int nconns, nrooms, nsources = 1, ep;
static uint16_t port;
static SSL_CTX *ctx;
static pid_t server_pid;
static int inflight, opened, closed_unexpected, admitted_rooms, errors_seen;
static uint64_t altered, out_of_order;
static double *lat;
static size_t nlat, lat_cap;
static bool serial_mode;
static int serial_waiting = -1;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint32_t xrand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

static void die(const char *msg) {
  fprintf(stderr, "signal_load: %s\n", msg);
  if (server_pid > 0) kill(server_pid, SIGKILL);
  exit(1);
}

/* ---- server process ---- */

static long proc_status_kb(pid_t pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long v = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, n) && line[n] == ':') {
      v = strtol(line + n + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double proc_cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long ut = 0, stt = 0;
  /* fields 14 and 15 (utime, stime), counting from after "pid (comm)" */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2) return -1;
  return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static int proc_fd_count(pid_t pid) {
  char cmd[96];
  snprintf(cmd, sizeof cmd, "ls /proc/%d/fd 2>/dev/null | wc -l", (int)pid);
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  int n = -1;
  if (fscanf(f, "%d", &n) != 1) n = -1;
  pclose(f);
  return n;
}

static bool tcp_port_free(uint16_t p) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static char state_dir[64], log_path[128];

static void start_server(const char *bin) {
  srand((unsigned)(now_ns() ^ (uint64_t)getpid()));
  for (int i = 0; i < 100 && !port; i++) {
    uint16_t p = (uint16_t)(20000 + rand() % 20000);
    if (tcp_port_free(p)) port = p;
  }
  if (!port) die("no free port");
  snprintf(state_dir, sizeof state_dir, "/tmp/medcall-bench-XXXXXX");
  if (!mkdtemp(state_dir)) die("mkdtemp failed");
  snprintf(log_path, sizeof log_path, "%s/server.log", state_dir);
  char listen_s[32], conns_s[16], rooms_s[16];
  snprintf(listen_s, sizeof listen_s, "127.0.0.1:%u", port);
  snprintf(conns_s, sizeof conns_s, "%d", nconns + 64);
  snprintf(rooms_s, sizeof rooms_s, "%d", nrooms + 64);
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    setenv("MEDCALL_LOG", "warn", 0);
    /* The documented options that lift the per-address limits: every bench
     * client comes from loopback (docs/server.md, "Options"). The per-
     * connection rate stays at its default; the bench sends far below it. */
    execl(bin, bin, "--open", "--listen", listen_s, "--state-dir", state_dir, "--max-conns", conns_s,
          "--max-conns-per-ip", conns_s, "--ip-rate", "1000000", "--ip-burst", "1000000", "--max-rooms", rooms_s,
          (char *)NULL);
    _exit(127);
  }
  server_pid = pid;
  for (int i = 0; i < 300; i++) {
    FILE *f = fopen(log_path, "r");
    char line[512];
    bool up = false;
    while (f && fgets(line, sizeof line, f))
      if (strstr(line, "listening on https://")) up = true;
    if (f) fclose(f);
    if (up) return;
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      server_pid = 0;
      die("medcall-server exited at start (see its log in the state dir)");
    }
    usleep(20000);
  }
  die("medcall-server did not start listening");
}

/* ---- WebSocket client (RFC 6455) ---- */

static void watch(struct conn *c, int i, bool out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)i};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = out;
}

static void conn_close(int i, bool expected) {
  struct conn *c = &conns[i];
  if (c->st == C_CLOSED) return;
  if (c->st != C_OPEN && c->st != C_IDLE) inflight--;
  if (c->st == C_OPEN) opened--;
  if (!expected) closed_unexpected++;
  if (c->ssl) SSL_free(c->ssl);
  c->ssl = NULL;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->st = C_CLOSED;
}

static void queue_bytes(struct conn *c, const uint8_t *p, size_t n) {
  if (c->wlen + n > c->wcap) {
    size_t cap = c->wcap ? c->wcap * 2 : 1024;
    while (cap < c->wlen + n) cap *= 2;
    uint8_t *nb = realloc(c->wbuf, cap);
    if (!nb) die("out of memory");
    c->wbuf = nb;
    c->wcap = cap;
  }
  memcpy(c->wbuf + c->wlen, p, n);
  c->wlen += n;
}

static void flush_out(int i) {
  struct conn *c = &conns[i];
  while (c->wlen > 0) {
    int n = SSL_write(c->ssl, c->wbuf, (int)c->wlen);
    if (n <= 0) {
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        if (!c->want_out) watch(c, i, true);
        return;
      }
      conn_close(i, false);
      return;
    }
    memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
    c->wlen -= (size_t)n;
  }
  if (c->want_out) watch(c, i, false);
}

/* Client frames are masked (RFC 6455 section 5.3). */
static void send_frame(int i, uint8_t opcode, const char *data, size_t len) {
  struct conn *c = &conns[i];
  if (c->st != C_OPEN) return;
  uint8_t hdr[14];
  size_t h = 0;
  hdr[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    hdr[h++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = (uint8_t)(len >> 8);
    hdr[h++] = (uint8_t)len;
  } else {
    hdr[h++] = 0x80 | 127;
    for (int k = 7; k >= 0; k--) hdr[h++] = (uint8_t)((uint64_t)len >> (8 * k));
  }
  uint32_t m = xrand();
  uint8_t mask[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
  memcpy(hdr + h, mask, 4);
  h += 4;
  queue_bytes(c, hdr, h);
  size_t start = c->wlen;
  queue_bytes(c, (const uint8_t *)data, len);
  for (size_t k = 0; k < len; k++) c->wbuf[start + k] ^= mask[k & 3];
  flush_out(i);
}

static void send_json(int i, const char *s) { send_frame(i, 0x1, s, strlen(s)); }

static void start_connect(int i) {
  struct conn *c = &conns[i];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket() failed: raise ulimit -n");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (nsources > 1) {
    /* Several loopback source addresses (all of 127/8 is loopback): more
     * ephemeral ports, and per-address limits spread. NO_PORT: choose the
     * port at connect, per destination. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % nsources));
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind to a 127.0.0.x source failed");
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int rc = connect(c->fd, (struct sockaddr *)&a, sizeof a);
  if (rc < 0 && errno != EINPROGRESS) die("connect() failed");
  c->st = C_TCP;
  inflight++;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl failed");
  c->want_out = true;
}

static void send_upgrade(int i) {
  struct conn *c = &conns[i];
  uint8_t key[16];
  for (int k = 0; k < 16; k++) key[k] = (uint8_t)xrand();
  char key64[32];
  EVP_EncodeBlock((unsigned char *)key64, key, 16);
  /* RFC 6455 section 4.2.2: accept = base64(SHA-1(key + GUID)) */
  char cat[96];
  snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key64);
  uint8_t sha[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)cat, strlen(cat), sha);
  EVP_EncodeBlock((unsigned char *)c->key_accept, sha, SHA_DIGEST_LENGTH);
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: medcall.v1\r\n\r\n",
                   port, key64);
  queue_bytes(c, (const uint8_t *)req, (size_t)n);
  c->st = C_UPGRADE;
  flush_out(i);
}

static void on_open(int i);
static void on_text(int i, const char *s, size_t len);

/* Parses what is in rbuf: the HTTP 101 answer, then frames. */
static void parse_input(int i) {
  struct conn *c = &conns[i];
  if (c->st == C_UPGRADE) {
    uint8_t *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end) return;
    size_t hl = (size_t)(end - c->rbuf) + 4;
    bool ok = c->rlen > 12 && !memcmp(c->rbuf, "HTTP/1.1 101", 12) && memmem(c->rbuf, hl, c->key_accept, strlen(c->key_accept));
    if (!ok) {
      errors_seen++;
      conn_close(i, false);
      return;
    }
    memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
    c->rlen -= hl;
    c->st = C_OPEN;
    inflight--;
    opened++;
    on_open(i);
  }
  size_t off = 0;
  while (c->st == C_OPEN && c->rlen - off >= 2) {
    uint8_t *p = c->rbuf + off;
    size_t avail = c->rlen - off, h = 2;
    uint8_t op = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    if (len == 126) {
      if (avail < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      h = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int k = 0; k < 8; k++) len = (len << 8) | p[2 + k];
      h = 10;
    }
    if (len > RBUF_CAP - 16) { /* the server's messages are small; a huge one is an error here */
      errors_seen++;
      conn_close(i, false);
      return;
    }
    if (avail < h + len) break;
    const char *payload = (const char *)p + h;
    if (op == 0x1) {
      on_text(i, payload, (size_t)len);
    } else if (op == 0x9) {
      send_frame(i, 0xA, payload, (size_t)len); /* pong with the same data (RFC 6455 section 5.5.3) */
    } else if (op == 0x8) {
      conn_close(i, false);
      return;
    }
    off += h + (size_t)len;
  }
  if (c->st == C_CLOSED) return;
  memmove(c->rbuf, c->rbuf + off, c->rlen - off);
  c->rlen -= off;
}

static void on_event(int i, uint32_t evs) {
  struct conn *c = &conns[i];
  if (c->st == C_TCP) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err || (evs & (EPOLLERR | EPOLLHUP))) {
      errors_seen++;
      conn_close(i, false);
      return;
    }
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_connect_state(c->ssl);
    c->st = C_TLS;
  }
  if (c->st == C_TLS) {
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
      send_upgrade(i);
    } else {
      int e = SSL_get_error(c->ssl, rc);
      if (e == SSL_ERROR_WANT_READ) watch(c, i, false);
      else if (e == SSL_ERROR_WANT_WRITE) watch(c, i, true);
      else {
        errors_seen++;
        conn_close(i, false);
      }
      return;
    }
  }
  if ((evs & EPOLLOUT) && c->wlen) flush_out(i);
  if (c->st == C_CLOSED) return;
  if (!(evs & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  for (;;) {
    if (c->rlen == RBUF_CAP) die("receive buffer full");
    int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(RBUF_CAP - c->rlen));
    if (n <= 0) {
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
      conn_close(i, false);
      return;
    }
    c->rlen += (size_t)n;
    parse_input(i);
    if (c->st == C_CLOSED) return;
  }
}

/* ---- the protocol (docs/signaling.md) ---- */

static void on_open(int i) {
  struct conn *c = &conns[i];
  struct room *r = &rooms[c->room];
  if (c->role == DOCTOR) {
    send_json(i, "{\"v\":1,\"type\":\"create\"}");
  } else if (r->id[0] && !r->joined) {
    char m[160];
    snprintf(m, sizeof m, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Bench %d\"}", r->id, c->room);
    r->joined = true;
    send_json(i, m);
  }
}

/* Worst relay per second since the rooms were ready: shows when stalls hit. */
#define TIMELINE_S 1024
static uint64_t tl_origin;
static float tl_max[TIMELINE_S];

static void record_latency(double ms, uint64_t t_recv) {
  if (tl_origin && t_recv > tl_origin) {
    uint64_t sec = (t_recv - tl_origin) / 1000000000ULL;
    if (sec < TIMELINE_S && ms > tl_max[sec]) tl_max[sec] = (float)ms;
  }
  if (nlat == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 65536;
    lat = realloc(lat, lat_cap * sizeof *lat);
    if (!lat) die("out of memory");
  }
  lat[nlat++] = ms;
}

static void send_candidate(int room_idx, int dir);

static const char CAND_PREFIX[] = "{\"v\":1,\"type\":\"candidate\"";

static void on_candidate(int i, const char *s, size_t len) {
  uint64_t t_recv = now_ns();
  struct conn *c = &conns[i];
  /* The server relays only the protocol's fields (docs/signaling.md), so
   * room, direction, sequence and send time ride in the candidate line as
   * extension attributes (RFC 8839 5.1), r, d, s, t in that order. */
  char buf[512];
  if (len >= sizeof buf) {
    altered++;
    return;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  const char *p = strstr(buf, " typ host r ");
  int r = -1, d = -1;
  unsigned seq = 0;
  unsigned long long t = 0;
  if (!p || sscanf(p, " typ host r %d d %d s %u t %llu\"", &r, &d, &seq, &t) != 4 || r != c->room ||
      d != (c->role == DOCTOR ? 1 : 0)) {
    altered++;
    return;
  }
  struct room *rm = &rooms[r];
  if (seq != rm->recv[d]) out_of_order++;
  rm->recv[d] = seq + 1;
  record_latency((double)(t_recv - t) / 1e6, t_recv);
  if (serial_mode && serial_waiting == r) serial_waiting = -1;
}

static void on_text(int i, const char *s, size_t len) {
  if (len > sizeof CAND_PREFIX - 1 && !memcmp(s, CAND_PREFIX, sizeof CAND_PREFIX - 1)) {
    on_candidate(i, s, len);
    return;
  }
  struct conn *c = &conns[i];
  struct room *r = &rooms[c->room];
  json_error_t jerr;
  json_t *m = json_loadb(s, len, 0, &jerr);
  const char *type = m ? json_string_value(json_object_get(m, "type")) : NULL;
  if (!type) {
    errors_seen++;
  } else if (!strcmp(type, "created")) {
    const char *id = json_string_value(json_object_get(m, "room"));
    if (id && strlen(id) < sizeof r->id) snprintf(r->id, sizeof r->id, "%s", id);
    if (conns[r->patient].st == C_OPEN) on_open(r->patient);
  } else if (!strcmp(type, "knock")) {
    send_json(i, "{\"v\":1,\"type\":\"admit\"}");
  } else if (!strcmp(type, "admitted")) {
    c->admitted = true;
    if (conns[r->doctor].admitted && conns[r->patient].admitted && !r->admitted) {
      r->admitted = true;
      admitted_rooms++;
    }
  } else if (!strcmp(type, "error")) {
    errors_seen++;
    if (errors_seen <= 5) fprintf(stderr, "signal_load: server error: %.*s\n", (int)len, s);
  }
  json_decref(m);
}

static void send_candidate(int room_idx, int dir) {
  struct room *r = &rooms[room_idx];
  int from = dir == 0 ? r->doctor : r->patient;
  char m[320];
  snprintf(m, sizeof m,
           "%s,\"candidate\":\"candidate:1 1 udp 2122260223 127.0.0.%d %d typ host r %d d %d s %u t %llu\","
           "\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
           CAND_PREFIX, 1 + room_idx % 250, 10000 + room_idx % 50000, room_idx, dir, r->sent[dir],
           (unsigned long long)now_ns());
  r->sent[dir]++;
  send_json(from, m);
}

/* ---- event loop and phases ---- */

static void poll_once(int timeout_ms) {
  struct epoll_event evs[512];
  int n = epoll_wait(ep, evs, 512, timeout_ms);
  for (int k = 0; k < n; k++) on_event((int)evs[k].data.u32, evs[k].events);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double pct(double p) {
  if (!nlat) return 0;
  size_t k = (size_t)(p * (double)(nlat - 1) + 0.5);
  return lat[k];
}

static uint64_t total_sent(void) {
  uint64_t n = 0;
  for (int r = 0; r < nrooms; r++) n += rooms[r].sent[0] + rooms[r].sent[1];
  return n;
}

static uint64_t total_recv(void) {
  uint64_t n = 0;
  for (int r = 0; r < nrooms; r++) n += rooms[r].recv[0] + rooms[r].recv[1];
  return n;
}

static void drain(void) {
  uint64_t end = now_ns() + DRAIN_S * 1000000000ULL;
  while (total_recv() < total_sent() && now_ns() < end) poll_once(10);
}

static double self_cpu0;

static void report(const char *what, uint64_t sent0, uint64_t recv0, double cpu0, double secs) {
  qsort(lat, nlat, sizeof *lat, cmp_double);
  uint64_t sent = total_sent() - sent0, recv = total_recv() - recv0;
  double cpu = proc_cpu_s(server_pid) - cpu0, mine = self_cpu_s() - self_cpu0;
  printf("relay latency, %s: %zu msgs (%llu sent, %llu lost): p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
         "CPU of one core: server %.0f%%, bench %.0f%%\n",
         what, nlat, (unsigned long long)sent, (unsigned long long)(sent - recv), pct(0.50), pct(0.99),
         nlat ? lat[nlat - 1] : 0.0, secs > 0 ? 100.0 * cpu / secs : 0.0, secs > 0 ? 100.0 * mine / secs : 0.0);
  fflush(stdout);
}

static int pick_room(uint64_t k) {
  /* round robin over admitted rooms */
  for (int tries = 0; tries < nrooms; tries++) {
    int r = (int)((k + (uint64_t)tries) % (uint64_t)nrooms);
    if (rooms[r].admitted && conns[rooms[r].doctor].st == C_OPEN && conns[rooms[r].patient].st == C_OPEN) return r;
  }
  return -1;
}

static void phase_serial(int count) {
  nlat = 0;
  serial_mode = true;
  uint64_t s0 = total_sent(), r0 = total_recv();
  double c0 = proc_cpu_s(server_pid);
  self_cpu0 = self_cpu_s();
  uint64_t t0 = now_ns();
  for (int k = 0; k < count; k++) {
    int r = pick_room((uint64_t)xrand());
    if (r < 0) break;
    serial_waiting = r;
    send_candidate(r, k & 1);
    uint64_t end = now_ns() + 1000000000ULL;
    while (serial_waiting >= 0 && now_ns() < end) poll_once(1);
    if (serial_waiting >= 0) serial_waiting = -1; /* lost: counted by the totals */
  }
  serial_mode = false;
  drain();
  report("one in flight", s0, r0, c0, (double)(now_ns() - t0) / 1e9);
}

static void phase_rate(double rate, int secs) {
  nlat = 0;
  uint64_t s0 = total_sent(), r0 = total_recv();
  double c0 = proc_cpu_s(server_pid);
  self_cpu0 = self_cpu_s();
  uint64_t t0 = now_ns(), end = t0 + (uint64_t)secs * 1000000000ULL, k = 0, due_sent = 0;
  while (now_ns() < end) {
    double el = (double)(now_ns() - t0) / 1e9;
    uint64_t due = (uint64_t)(el * rate);
    while (due_sent < due) {
      /* every room in turn, doctor to patient on one pass, back the next */
      int r = pick_room(k);
      if (r < 0) break;
      send_candidate(r, (int)((k / (uint64_t)nrooms) & 1));
      k++;
      due_sent++;
    }
    poll_once(1);
  }
  double secs_run = (double)(now_ns() - t0) / 1e9;
  drain();
  char what[64];
  snprintf(what, sizeof what, "%.0f msg/s for %d s", rate, secs);
  report(what, s0, r0, c0, secs_run);
}

static void raise_nofile(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t want = (rlim_t)NOFILE_WANT;
  if ((rlim_t)(nconns + 1024) > want) want = (rlim_t)(nconns + 1024);
  if (rl.rlim_cur < want) {
    struct rlimit nl = {want, rl.rlim_max > want ? rl.rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &nl) < 0) {
      nl.rlim_max = rl.rlim_max;
      nl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &nl);
    }
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  printf("RLIMIT_NOFILE %llu (bench and server each)\n", (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    fprintf(stderr, "usage: %s MEDCALL_SERVER [-n CONNS] [-r RATE[,RATE...]] [-d SECONDS] [-s SOURCES] [-k SERIAL]\n",
            argv[0]);
    return 2;
  }
  const char *bin = argv[1];
  nconns = 10000;
  const char *rates = "1000,4000";
  int secs = 15, serial = 2000;
  for (int a = 2; a + 1 < argc; a += 2) {
    if (!strcmp(argv[a], "-n")) nconns = atoi(argv[a + 1]);
    else if (!strcmp(argv[a], "-r")) rates = argv[a + 1];
    else if (!strcmp(argv[a], "-d")) secs = atoi(argv[a + 1]);
    else if (!strcmp(argv[a], "-s")) nsources = atoi(argv[a + 1]);
    else if (!strcmp(argv[a], "-k")) serial = atoi(argv[a + 1]);
    else {
      fprintf(stderr, "signal_load: unknown option %s\n", argv[a]);
      return 2;
    }
  }
  if (nconns < 2 || nsources < 1 || nsources > 254 || secs < 1) {
    fprintf(stderr, "signal_load: bad -n, -s or -d\n");
    return 2;
  }
  nconns &= ~1;
  nrooms = nconns / 2;
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();

  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new failed");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the server's fresh self-signed certificate */
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);

  start_server(bin);
  long rss0 = proc_status_kb(server_pid, "VmRSS");
  printf("medcall-server pid %d on 127.0.0.1:%u, %ld cores, idle VmRSS %.1f MB\n", (int)server_pid, port,
         sysconf(_SC_NPROCESSORS_ONLN), rss0 / 1024.0);

  conns = calloc((size_t)nconns, sizeof *conns);
  rooms = calloc((size_t)nrooms, sizeof *rooms);
  if (!conns || !rooms) die("out of memory");
  for (int r = 0; r < nrooms; r++) {
    rooms[r].doctor = 2 * r;
    rooms[r].patient = 2 * r + 1;
  }
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = -1;
    conns[i].room = i / 2;
    conns[i].role = (i & 1) ? PATIENT : DOCTOR;
    conns[i].rbuf = malloc(RBUF_CAP);
    if (!conns[i].rbuf) die("out of memory");
  }
  ep = epoll_create1(EPOLL_CLOEXEC);

  /* Ramp: connect everyone (capped in flight), pair them into rooms. */
  uint64_t t0 = now_ns(), limit = t0 + RAMP_LIMIT_S * 1000000000ULL;
  int next = 0;
  uint64_t last_print = t0;
  while (now_ns() < limit) {
    while (next < nconns && inflight < MAX_INFLIGHT_CONNECTS) start_connect(next++);
    poll_once(5);
    if (next == nconns && inflight == 0 && admitted_rooms + (closed_unexpected + errors_seen) / 2 >= nrooms) break;
    if (admitted_rooms == nrooms) break;
    if (now_ns() - last_print > 5000000000ULL) {
      last_print = now_ns();
      fprintf(stderr, "signal_load: ramp %d/%d open, %d/%d rooms admitted\n", opened, nconns, admitted_rooms, nrooms);
    }
  }
  /* let the last admissions arrive */
  for (uint64_t e = now_ns() + 500000000ULL; now_ns() < e && admitted_rooms < nrooms;) poll_once(5);
  double ramp = (double)(now_ns() - t0) / 1e9;
  long rss1 = proc_status_kb(server_pid, "VmRSS");
  int sfd = proc_fd_count(server_pid);
  printf("connections held: %d of %d (%d of %d rooms admitted), ramp %.1f s (%.0f conn/s); errors %d, closed %d; "
         "server open fds %d\n",
         opened, nconns, admitted_rooms, nrooms, ramp, opened / ramp, errors_seen, closed_unexpected, sfd);
  printf("server memory with %d connections: VmRSS %.1f MB (idle %.1f MB, %.1f KB per connection)\n", opened,
         rss1 / 1024.0, rss0 / 1024.0, opened ? (double)(rss1 - rss0) / opened : 0.0);
  fflush(stdout);

  tl_origin = now_ns();
  if (admitted_rooms > 0) {
    phase_serial(serial);
    const char *p = rates;
    while (*p) {
      double rate = strtod(p, (char **)&p);
      if (rate > 0) phase_rate(rate, secs);
      if (*p == ',') p++;
      else break;
    }
  }
  printf("seconds (since the rooms were ready) whose slowest relay took over 10 ms:");
  int nslow = 0;
  for (int k = 0; k < TIMELINE_S; k++)
    if (tl_max[k] > 10.0f) {
      printf(" +%ds:%.0fms", k, (double)tl_max[k]);
      nslow++;
    }
  printf("%s\n", nslow ? "" : " none");
  long rss2 = proc_status_kb(server_pid, "VmRSS"), hwm = proc_status_kb(server_pid, "VmHWM");
  printf("server memory after the load: VmRSS %.1f MB, peak VmHWM %.1f MB; connections still held %d\n",
         rss2 / 1024.0, hwm / 1024.0, opened);
  printf("messages altered in relay: %llu, out of order: %llu\n", (unsigned long long)altered,
         (unsigned long long)out_of_order);

  /* Clean shutdown (SIGTERM) while all connections are still open. */
  int held = opened;
  uint64_t ts = now_ns();
  kill(server_pid, SIGTERM);
  int status = 0;
  bool exited = false;
  while (now_ns() - ts < 10000000000ULL) {
    poll_once(5);
    if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
      exited = true;
      break;
    }
  }
  if (!exited) {
    kill(server_pid, SIGKILL);
    waitpid(server_pid, &status, 0);
  }
  printf("server SIGTERM with %d connections: %s in %.2f s\n", held,
         exited && WIFEXITED(status) ? (WEXITSTATUS(status) == 0 ? "exit 0" : "exit non-zero") : "killed",
         (double)(now_ns() - ts) / 1e9);
  server_pid = 0;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
  if (system(cmd) != 0) fprintf(stderr, "signal_load: could not remove %s\n", state_dir);
  return 0;
}
