#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "util/util.h"

static enum mc_log_level current_level = MC_LOG_WARN;
static mc_log_sink current_sink;
static void *current_sink_user;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void mc_log_set_level(enum mc_log_level level) { current_level = level; }
enum mc_log_level mc_log_get_level(void) { return current_level; }

/* systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected
 * to stderr (systemd.exec(5)); when stderr is still that stream, journald
 * reads a "<N>" prefix as the syslog priority and stamps the time itself. */
static bool journald_stderr(void) {
  const char *v = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;
  if (!v || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0) return false;
  return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static int journald = -1; /* not known yet */

void mc_log_init_from_env(void) {
  journald = journald_stderr();
  const char *v = getenv("MEDCALL_LOG");
  if (!v) return;
  for (int i = 0; i <= MC_LOG_OFF; i++)
    if (strcasecmp(v, level_names[i]) == 0) current_level = (enum mc_log_level)i;
}

void mc_log_set_sink(mc_log_sink sink, void *user) {
  current_sink = sink;
  current_sink_user = user;
}

void mc_log(enum mc_log_level level, const char *component, const char *fmt, ...) {
  if (level < current_level || level >= MC_LOG_OFF) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (current_sink) {
    current_sink(level, component, line, current_sink_user);
    return;
  }
  if (journald < 0) journald = journald_stderr();
  if (journald) {
    /* syslog(3) priorities: debug 7, info 6, warning 4, err 3. */
    static const int priority[] = {7, 6, 4, 3};
    fprintf(stderr, "<%d>%s %s: %s\n", priority[level], level_names[level], component, line);
    return;
  }
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000, level_names[level], component, line);
}

const char *mc_strerror(int err) {
  switch (err) {
  case MC_OK: return MC_TR_NOOP("success");
  case MC_EINVAL: return MC_TR_NOOP("invalid argument");
  case MC_ENOMEM: return MC_TR_NOOP("out of memory");
  case MC_EPARSE: return MC_TR_NOOP("malformed input");
  case MC_ETOOBIG: return MC_TR_NOOP("does not fit");
  case MC_ENOTFOUND: return MC_TR_NOOP("not found");
  case MC_EAUTH: return MC_TR_NOOP("authentication failed");
  case MC_ETIMEDOUT: return MC_TR_NOOP("timed out");
  case MC_EIO: return MC_TR_NOOP("input/output error");
  case MC_ESTATE: return MC_TR_NOOP("not valid in this state");
  case MC_ECLOSED: return MC_TR_NOOP("closed");
  case MC_EREFUSED: return MC_TR_NOOP("refused by the peer");
  case MC_ETLS: return MC_TR_NOOP("TLS failure");
  case MC_ERESOLVE: return MC_TR_NOOP("name resolution failed");
  case MC_EAGAIN: return MC_TR_NOOP("busy, try again");
  default: return MC_TR_NOOP("unknown error");
  }
}
