/* /metrics: the server's counters in the Prometheus text exposition format
 * (version 0.0.4: "# HELP", "# TYPE", then "name{label="value"} number"
 * lines; counters end in _total), plus the process figures every
 * Prometheus client library exports under the same names. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "server/server.h"
#include "util/util.h"

const char *const mc_server_end_reasons[MC_SERVER_END_REASONS] = {"ended-by-doctor", "doctor-gone", "expired",
                                                                  "other"};

size_t mc_server_end_reason_index(const char *reason) {
  for (size_t i = 0; i + 1 < MC_SERVER_END_REASONS; i++)
    if (reason && !strcmp(reason, mc_server_end_reasons[i])) return i;
  return MC_SERVER_END_REASONS - 1;
}

struct out {
  char *buf;
  size_t len, cap;
  bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
  if (o->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      o->failed = true;
      return;
    }
    if ((size_t)n < o->cap - o->len) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = o->cap * 2 + (size_t)n;
    char *p = realloc(o->buf, cap);
    if (!p) {
      o->failed = true;
      return;
    }
    o->buf = p;
    o->cap = cap;
  }
}

static void head(struct out *o, const char *name, const char *type, const char *help) {
  put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, double v) {
  head(o, name, type, help);
  put(o, "%s %.17g\n", name, v);
}

/* CPU seconds and resident bytes from /proc/self/stat (proc(5): utime and
 * stime are fields 14 and 15 in clock ticks, rss field 24 in pages) and the
 * start time from field 22 (ticks after boot). */
static void process_stats(double *cpu_s, double *rss_bytes, double *start_s) {
  *cpu_s = *rss_bytes = *start_s = 0;
  char *text = NULL;
  size_t len = 0;
  if (mc_read_file("/proc/self/stat", 4096, &text, &len) < 0) return;
  /* The command name (field 2) may hold spaces and parentheses: fields
   * are counted from the last ')'. */
  char *p = strrchr(text, ')');
  unsigned long long utime = 0, stime = 0, start = 0;
  long rss = 0;
  if (p && sscanf(p + 2,
                  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
                  &utime, &stime, &start, &rss) == 4) {
    double hz = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(utime + stime) / hz;
    *rss_bytes = (double)rss * (double)sysconf(_SC_PAGESIZE);
    struct timespec boot_mono, now_wall;
    clock_gettime(CLOCK_BOOTTIME, &boot_mono);
    clock_gettime(CLOCK_REALTIME, &now_wall);
    double boot_wall = (double)now_wall.tv_sec + now_wall.tv_nsec / 1e9 - boot_mono.tv_sec - boot_mono.tv_nsec / 1e9;
    *start_s = boot_wall + (double)start / hz;
  }
  free(text);
}

static double open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return 0;
  double n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

int mc_server_metrics_render(const struct mc_server_metrics *m, char **out, size_t *out_len) {
  struct out o = {.cap = 8192};
  if (!(o.buf = malloc(o.cap))) return MC_ENOMEM;
  head(&o, "medcall_connections", "gauge", "Open connections: TCP (HTTPS and WSS together) and WebSockets.");
  put(&o, "medcall_connections{kind=\"tcp\"} %llu\n", (unsigned long long)m->tcp_connections);
  put(&o, "medcall_connections{kind=\"websocket\"} %llu\n", (unsigned long long)m->websockets);
  one(&o, "medcall_connections_refused_total", "counter",
      "TCP connections closed at once: too many from one address, or in total.", (double)m->connections_refused);
  one(&o, "medcall_rooms", "gauge", "Rooms open.", (double)m->rooms);
  one(&o, "medcall_patients_waiting", "gauge", "Patients knocking, in every room.", (double)m->patients_waiting);
  one(&o, "medcall_calls_in_progress", "gauge", "Rooms with a patient admitted.", (double)m->calls_in_progress);
  one(&o, "medcall_rooms_created_total", "counter", "Rooms created.", (double)m->rooms_created);
  one(&o, "medcall_knocks_total", "counter", "Patients who knocked.", (double)m->knocks);
  one(&o, "medcall_calls_admitted_total", "counter", "Patients admitted by a doctor.", (double)m->calls_admitted);
  head(&o, "medcall_rooms_ended_total", "counter", "Rooms ended, by reason.");
  for (size_t i = 0; i < MC_SERVER_END_REASONS; i++)
    put(&o, "medcall_rooms_ended_total{reason=\"%s\"} %llu\n", mc_server_end_reasons[i],
        (unsigned long long)m->rooms_ended[i]);
  one(&o, "medcall_messages_relayed_total", "counter", "Offers, answers and candidates relayed between peers.",
      (double)m->messages_relayed);
  head(&o, "medcall_messages_rejected_total", "counter", "Messages answered with an error, by its code.");
  for (int e = 1; e < MC_SIGERR_COUNT; e++)
    put(&o, "medcall_messages_rejected_total{code=\"%s\"} %llu\n", mc_signal_error_name((enum mc_signal_error)e),
        (unsigned long long)m->messages_rejected[e]);
  head(&o, "medcall_rate_limited_total", "counter", "Messages dropped by a rate limit, by its scope.");
  put(&o, "medcall_rate_limited_total{scope=\"connection\"} %llu\n", (unsigned long long)m->rate_limited_connection);
  put(&o, "medcall_rate_limited_total{scope=\"address\"} %llu\n", (unsigned long long)m->rate_limited_address);
  one(&o, "medcall_doctor_token_failures_total", "counter", "Room creations with a wrong doctor token.",
      (double)m->bad_tokens);
  one(&o, "medcall_addresses_locked_out_total", "counter",
      "Times an address was locked out after repeated wrong doctor tokens.", (double)m->lockouts);
  one(&o, "medcall_turn_credentials_issued_total", "counter", "TURN credentials handed out.",
      (double)m->turn_credentials);
  one(&o, "medcall_tls_handshakes_total", "counter", "TLS handshakes completed.", (double)m->tls_handshakes);
  one(&o, "medcall_tls_handshake_failures_total", "counter",
      "TLS connections closed before their handshake completed (refused, failed or timed out).",
      (double)m->tls_handshake_failures);
  one(&o, "medcall_up", "gauge", "1 while serving, 0 while starting or draining.", m->serving ? 1 : 0);
  double cpu, rss, start;
  process_stats(&cpu, &rss, &start);
  struct rlimit rl = {0};
  getrlimit(RLIMIT_NOFILE, &rl);
  one(&o, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpu);
  one(&o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss);
  one(&o, "process_open_fds", "gauge", "Number of open file descriptors.", open_fds());
  one(&o, "process_max_fds", "gauge", "Maximum number of open file descriptors.", (double)rl.rlim_cur);
  one(&o, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", start);
  if (o.failed) {
    free(o.buf);
    return MC_ENOMEM;
  }
  *out = o.buf;
  *out_len = o.len;
  return MC_OK;
}
