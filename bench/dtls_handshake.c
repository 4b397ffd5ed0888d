/* dtls_handshake: N in-process DTLS 1.2 handshakes between two medcall
 * endpoints (real OpenSSL on both sides, datagrams handed over in memory,
 * no loss), each with two freshly generated certificates, as two peer
 * connections would. Prints p50/p95/max of certificate generation (key,
 * certificate and the SSL_CTX kept with it) and of the handshake
 * (mc_dtls_new of both sides to both connected, SRTP keys exported), in
 * wall time and in process CPU time, which other load on the machine
 * disturbs less. Never fails on time.
 *
 *   build/bench/dtls_handshake [N]      (default 200) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtls/dtls.h"
#include "util/util.h"

#define MAXQ 64

struct side {
  mc_dtls *d;
  uint8_t *q[MAXQ];
  size_t ql[MAXQ];
  size_t qn;
  size_t datagrams, bytes;
  bool connected, failed;
};

static void on_send(const uint8_t *data, size_t len, void *user) {
  struct side *s = user;
  s->datagrams++;
  s->bytes += len;
  if (s->qn >= MAXQ) return;
  s->q[s->qn] = malloc(len);
  if (!s->q[s->qn]) return;
  memcpy(s->q[s->qn], data, len);
  s->ql[s->qn++] = len;
}
static void on_connected(void *user) { ((struct side *)user)->connected = true; }
static void on_data(const uint8_t *data, size_t len, void *user) { (void)data, (void)len, (void)user; }
static void on_closed(void *user) { (void)user; }
static void on_failed(int err, const char *sentence, void *user) {
  (void)err;
  fprintf(stderr, "handshake failed: %s\n", sentence);
  ((struct side *)user)->failed = true;
}

static size_t deliver(struct side *from, struct side *to) {
  size_t n = from->qn;
  from->qn = 0;
  for (size_t i = 0; i < n; i++) {
    mc_dtls_receive(to->d, from->q[i], from->ql[i]);
    free(from->q[i]);
  }
  return n;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void print_stats(const char *what, double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += v[i];
  printf("%-34s p50 %7.3f ms  p95 %7.3f ms  max %7.3f ms  mean %7.3f ms  (n=%zu)\n", what, v[n / 2],
         v[(size_t)((double)(n - 1) * 0.95)], v[n - 1], sum / (double)n, n);
}

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 200;
  if (n == 0) n = 1;
  double *gen = calloc(2 * n, sizeof *gen), *hs = calloc(n, sizeof *hs);
  double *gen_cpu = calloc(2 * n, sizeof *gen), *hs_cpu = calloc(n, sizeof *hs);
  if (!gen || !hs || !gen_cpu || !hs_cpu) return 1;
  const struct mc_dtls_callbacks cbs = {on_send, on_connected, on_data, on_closed, on_failed};
  size_t ok = 0, datagrams = 0, bytes = 0;
  for (size_t i = 0; i < n; i++) {
    mc_dtls_cert *cert[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
      double c0 = cpu_ms();
      uint64_t t0 = mc_now_us();
      if (mc_dtls_cert_generate(&cert[k]) != 0) {
        fprintf(stderr, "certificate generation failed\n");
        return 1;
      }
      gen[2 * i + (size_t)k] = (double)(mc_now_us() - t0) / 1e3;
      gen_cpu[2 * i + (size_t)k] = cpu_ms() - c0;
    }
    uint8_t fp[2][MC_DTLS_FP_SHA256_LEN];
    mc_dtls_cert_fingerprint(cert[0], fp[0]);
    mc_dtls_cert_fingerprint(cert[1], fp[1]);
    struct side c = {0}, s = {0};
    struct mc_dtls_config cc = {.role = MC_DTLS_CLIENT, .cert = cert[0], .remote_fp_algorithm = "sha-256",
                                .remote_fp = fp[1], .remote_fp_len = MC_DTLS_FP_SHA256_LEN, .use_srtp = true};
    struct mc_dtls_config sc = cc;
    sc.role = MC_DTLS_SERVER;
    sc.cert = cert[1];
    sc.remote_fp = fp[0];

    double c0 = cpu_ms();
    uint64_t t0 = mc_now_us();
    if (mc_dtls_new(&cc, &cbs, &c, &c.d) != 0 || mc_dtls_new(&sc, &cbs, &s, &s.d) != 0) return 1;
    mc_dtls_start(s.d);
    mc_dtls_start(c.d);
    for (int round = 0; round < 20 && !(c.connected && s.connected) && !c.failed && !s.failed; round++)
      if (deliver(&c, &s) + deliver(&s, &c) == 0) break;
    struct mc_dtls_srtp_keys kc, ks;
    bool keys = mc_dtls_srtp_keys(c.d, &kc) == 0 && mc_dtls_srtp_keys(s.d, &ks) == 0 &&
                memcmp(kc.client_key, ks.client_key, kc.key_len) == 0;
    hs[i] = (double)(mc_now_us() - t0) / 1e3;
    hs_cpu[i] = cpu_ms() - c0;
    memset(&kc, 0, sizeof kc);
    memset(&ks, 0, sizeof ks);
    if (c.connected && s.connected && keys) ok++;
    datagrams += c.datagrams + s.datagrams;
    bytes += c.bytes + s.bytes;
    deliver(&c, &s);
    deliver(&s, &c);
    mc_dtls_free(c.d);
    mc_dtls_free(s.d);
    mc_dtls_cert_free(cert[0]);
    mc_dtls_cert_free(cert[1]);
  }
  printf("DTLS 1.2, ECDSA P-256 certificates, MTU %d, use_srtp, in-process, no loss\n", MC_DTLS_DEFAULT_MTU);
  print_stats("certificate generation, wall", gen, 2 * n);
  print_stats("certificate generation, CPU", gen_cpu, 2 * n);
  print_stats("handshake (both sides), wall", hs, n);
  print_stats("handshake (both sides), CPU", hs_cpu, n);
  printf("handshakes connected with matching SRTP keys: %zu of %zu\n", ok, n);
  printf("per handshake: %.1f datagrams, %.0f bytes on the wire\n", (double)datagrams / (double)n,
         (double)bytes / (double)n);
  free(gen);
  free(hs);
  free(gen_cpu);
  free(hs_cpu);
  return ok == n ? 0 : 1;
}
