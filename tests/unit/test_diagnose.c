/* medcall diagnose, end to end: runs the built medcall program against a
 * throw-away coturn on 127.0.0.1 (see coturn.h) and checks its text and JSON
 * output and its exit status. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "coturn.h"

static char medcall[PATH_MAX + 32];
static char out[1 << 16];

/* The build tree puts tests/unit/test_diagnose next to src/app/medcall. */
static bool find_medcall(void) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return false;
  self[n] = '\0';
  char *p = strstr(self, "/tests/unit/");
  if (!p) return false;
  *p = '\0';
  snprintf(medcall, sizeof medcall, "%s/src/app/medcall", self);
  return access(medcall, X_OK) == 0;
}

/* Runs "medcall diagnose ARGS", stdout into out; returns the exit status. */
static int diagnose(const char *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int diagnose(const char *env, const char *fmt, ...) {
  char args[1024], cmd[sizeof medcall + sizeof args + 512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "%s '%s' diagnose %s 2>'%s/stderr.txt'", env ? env : "", medcall, args, tmpdir);
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  size_t len = fread(out, 1, sizeof out - 1, f);
  out[len] = '\0';
  int st = pclose(f);
  fprintf(stderr, "$ medcall diagnose %s\n%s", args, out);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool has(const char *needle) {
  bool ok = strstr(out, needle) != NULL;
  if (!ok) fprintf(stderr, "output lacks: %s\n", needle);
  return ok;
}

/* A line of the text output that starts with tag and names step. */
static bool step_line(const char *tag, const char *step) {
  char want[128];
  snprintf(want, sizeof want, "  %s %s", tag, step);
  return has(want);
}

static bool valid_json(void) {
  char path[400];
  snprintf(path, sizeof path, "%s/out.json", tmpdir);
  FILE *f = fopen(path, "w");
  if (!f) return false;
  fputs(out, f);
  fclose(f);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "python3 -m json.tool '%s' >/dev/null", path);
  return system(cmd) == 0;
}

int main(void) {
  CHECK(find_medcall());
  CHECK(coturn_setup());
  if (!medcall[0] || coturn.pid <= 0) return CHECK_DONE();
  char ca_env[400];
  snprintf(ca_env, sizeof ca_env, "SSL_CERT_FILE='%s/ca.pem'", tmpdir);

  /* usage errors: exit 2 with a sentence */
  CHECK_EQ_INT(diagnose(NULL, "%s", ""), 2);
  CHECK_EQ_INT(diagnose(NULL, "--ice-server turn://x"), 2);
  CHECK_EQ_INT(diagnose(NULL, "--ice-server turn:h --ice-username u"), 2);
  CHECK_EQ_INT(diagnose(NULL, "--ice-server turn:h --bogus"), 2);
  CHECK_EQ_INT(diagnose(NULL, "--help"), 0);
  CHECK(has("--ice-credential"));

  /* everything works: UDP and TCP from the turn: URL, TLS verified, STUN */
  int rc = diagnose(ca_env,
                    "--ice-server turn:127.0.0.1:%u --ice-server turns:localhost:%u --ice-server stun:127.0.0.1:%u "
                    "--ice-username test --ice-credential secret --timeout-ms 3000",
                    turn_port, tls_port, turn_port);
  CHECK_EQ_INT(rc, 0);
  CHECK(has("(udp)"));
  CHECK(has("(tcp)"));
  CHECK(has("(tls)"));
  CHECK(step_line("[ok]  ", "allocate (authenticated)"));
  CHECK(has("401 with realm=\"medcall.test\" nonce=yes"));
  CHECK(has("certificate verified"));
  CHECK(has("20/20 echoed byte-exact  loss=0%"));
  CHECK(strstr(out, "[FAIL]") == NULL);
  CHECK(strstr(out, "[skip]") == NULL);
  CHECK(has("relay/udp  yes"));
  CHECK(has("relay/tcp  yes"));
  CHECK(has("relay/tls  yes"));
  CHECK(has("srflx      yes"));
  CHECK(strstr(out, "secret") == NULL);

  /* the same as JSON */
  rc = diagnose(ca_env,
                "--json --ice-server turn:127.0.0.1:%u?transport=udp --ice-username test --ice-credential secret "
                "--timeout-ms 3000 --probes 5",
                turn_port);
  CHECK_EQ_INT(rc, 0);
  CHECK(valid_json());
  CHECK(has("\"ok\":true"));
  CHECK(has("{\"name\":\"data_channel\",\"status\":\"ok\""));
  CHECK(has("\"probes\":{\"sent\":5,\"received\":5,\"corrupt\":0,\"loss_percent\":0"));
  CHECK(has("\"relay_udp\":{\"status\":\"yes\""));
  CHECK(has("\"relay_tls\":{\"status\":\"not tested\""));

  /* a wrong password stops at the authenticated Allocate, exit 1 */
  rc = diagnose(NULL, "--ice-server turn:127.0.0.1:%u?transport=udp --ice-username test --ice-credential wrongpass "
                      "--timeout-ms 3000",
                turn_port);
  CHECK_EQ_INT(rc, 1);
  CHECK(step_line("[ok]  ", "allocate (no auth)"));
  CHECK(step_line("[FAIL]", "allocate (authenticated)"));
  CHECK(has("error 401 Unauthorized"));
  CHECK(has("rejected the username or password (401 Unauthorized); check --ice-username and --ice-credential, or that medcall-server's --turn-secret is coturn's static-auth-secret."));
  CHECK(step_line("[skip]", "data (channeldata)"));
  CHECK(has("relay/udp  no"));
  CHECK(strstr(out, "wrongpass") == NULL);
  rc = diagnose(NULL, "--json --ice-server turn:127.0.0.1:%u?transport=tcp --ice-username test "
                      "--ice-credential wrongpass --timeout-ms 3000",
                turn_port);
  CHECK_EQ_INT(rc, 1);
  CHECK(valid_json());
  CHECK(has("{\"name\":\"allocate\",\"status\":\"fail\",\"code\":401"));
  CHECK(has("\"ok\":false"));

  /* TLS without the CA: the connect step fails and says what to do */
  rc = diagnose("SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent",
                "--ice-server turns:localhost:%u --ice-username test --ice-credential secret --timeout-ms 3000",
                tls_port);
  CHECK_EQ_INT(rc, 1);
  CHECK(step_line("[FAIL]", "connect"));
  CHECK(has("SSL_CERT_FILE"));
  rc = diagnose("SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent",
                "--insecure --ice-server turns:localhost:%u --ice-username test --ice-credential secret "
                "--timeout-ms 3000",
                tls_port);
  CHECK_EQ_INT(rc, 0);
  CHECK(has("certificate NOT verified (--insecure)"));

  /* a dead server: the timeout sentence, in bounded time */
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  rc = diagnose(NULL, "--ice-server stun:127.0.0.1:%u --timeout-ms 300", ntohs(sa.sin_port));
  close(fd);
  CHECK_EQ_INT(rc, 1);
  CHECK(step_line("[FAIL]", "binding"));
  CHECK(has("did not answer over UDP (transaction timed out)"));
  CHECK(has("srflx      no"));

  /* no credentials for a TURN server */
  rc = diagnose(NULL, "--ice-server turn:127.0.0.1:%u?transport=udp --timeout-ms 3000", turn_port);
  CHECK_EQ_INT(rc, 1);
  CHECK(has("requires a username and password"));

  kill_coturn();
  return CHECK_DONE();
}
