/* Test helper: a throw-away coturn on 127.0.0.1 (plain and TLS with a CA
 * made by the openssl CLI in a temp dir), killed on every exit path:
 * atexit (SIGTERM, then SIGKILL), fatal signals, and PR_SET_PDEATHSIG (set
 * by proc.h) should the test die hard. Static functions: include it from one
 * test file. */
#ifndef MC_TEST_COTURN_H
#define MC_TEST_COTURN_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipv6.h"
#include "proc.h"
#include "util/util.h"

static struct test_proc coturn;
static char tmpdir[256];
static char log_path[300];

/* At exit it gets a second to shut down cleanly before SIGKILL. */
static void kill_coturn(void) { proc_stop(&coturn, 1000); }

static void cleanup(void) {
  kill_coturn();
  proc_remove_dir(tmpdir);
}

/* Only async-signal-safe calls here: kill, waitpid, unlink, rmdir. */
static void on_fatal(int sig) {
  static const char *files[] = {"ca.key", "ca.pem", "ca.srl", "srv.key", "srv.csr", "srv.pem",
                                "ext.cnf", "coturn.log", "out.json", "stderr.txt"};
  proc_kill_all(true);
  if (tmpdir[0]) {
    char path[400];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
      size_t n = 0;
      for (const char *p = tmpdir; *p && n < sizeof path - 2; p++) path[n++] = *p;
      path[n++] = '/';
      for (const char *p = files[i]; *p && n < sizeof path - 1; p++) path[n++] = *p;
      path[n] = '\0';
      unlink(path);
    }
    rmdir(tmpdir);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

static bool make_certs(void) {
  return run("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj '/CN=medcall test CA' "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
             "-subj /CN=localhost >/dev/null 2>&1 && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
             "-extfile ext.cnf >/dev/null 2>&1",
             tmpdir) == 0;
}

static uint16_t turn_port, tls_port;
static bool coturn_v6; /* ::1 usable: coturn listens and relays there too */

static bool start_coturn(void) {
  turn_port = proc_pick_ports(2);
  tls_port = turn_port ? (uint16_t)(turn_port + 1) : 0;
  if (!turn_port) return false;
  char port_s[8], tls_s[8], cert[300], key[300];
  snprintf(port_s, sizeof port_s, "%u", turn_port);
  snprintf(tls_s, sizeof tls_s, "%u", tls_port);
  snprintf(cert, sizeof cert, "%s/srv.pem", tmpdir);
  snprintf(key, sizeof key, "%s/srv.key", tmpdir);
  snprintf(log_path, sizeof log_path, "%s/coturn.log", tmpdir);
  /* stdbuf: coturn's stdout log is block-buffered into a file otherwise. */
  const char *argv[64] = {"stdbuf", "-oL", "turnserver", "--lt-cred-mech", "--user", "test:secret", "--realm",
                          "medcall.test", "--no-cli", "--no-dtls", "--listening-ip", "127.0.0.1", "--relay-ip",
                          "127.0.0.1", "--allow-loopback-peers", "--log-file", "stdout", "--simple-log", "-v",
                          "--listening-port", port_s, "--tls-listening-port", tls_s, "--cert", cert, "--pkey", key,
                          "--min-port", "40000", "--max-port", "60000", "--no-software-attribute", "--userdb",
                          "/dev/null"};
  size_t n = 0;
  while (argv[n]) n++;
  if (coturn_v6) {
    argv[n++] = "--listening-ip";
    argv[n++] = "::1";
    argv[n++] = "--relay-ip";
    argv[n++] = "::1";
  }
  argv[n] = NULL;
  coturn.port = turn_port;
  coturn.port2 = tls_port;
  mc_strcpy(coturn.log, sizeof coturn.log, log_path);
  if (!proc_spawn(&coturn, argv)) return false;
  usleep(100000); /* the UDP listener opens right after */
  return true;
}

__attribute__((unused)) static int count_in_log(const char *needle) {
  FILE *f = fopen(log_path, "r");
  if (!f) return -1;
  char line[2048];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, needle)) n++;
  fclose(f);
  return n;
}

/* Makes the temp dir and certificates and starts coturn; false if any of
 * that failed (the caller records the failure: the test must not pass). */
static bool coturn_setup(void) {
  if (system("command -v turnserver >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && "
             "command -v stdbuf >/dev/null 2>&1") != 0) {
    fprintf(stderr, "turnserver, openssl or stdbuf missing (apt-get install coturn openssl coreutils)\n");
    return false;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/medcall-turn-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    tmpdir[0] = '\0';
    return false;
  }
  atexit(cleanup);
  signal(SIGINT, on_fatal);
  signal(SIGTERM, on_fatal);
  signal(SIGABRT, on_fatal);
  signal(SIGSEGV, on_fatal);
  signal(SIGPIPE, SIG_IGN);
  if (!make_certs()) return false;
  coturn_v6 = ipv6_loopback_usable();
  if (!start_coturn()) return false;
  fprintf(stderr, "coturn pid=%d port=%u tls=%u ipv6=%d log=%s\n", (int)coturn.pid, turn_port, tls_port,
          (int)coturn_v6, log_path);
  return true;
}

#endif
