/* TLS client set-up and error text for streams (OpenSSL, memory BIOs). */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"

/* Loading the system bundle costs about 18 ms per context on the reference
 * machine (145 certificates), so verifying contexts are shared and rebuilt
 * only when SSL_CERT_FILE or SSL_CERT_DIR change. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *shared_ctx;
static char shared_file[1024], shared_dir[1024];

static SSL_CTX *new_ctx(bool insecure) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return NULL;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!insecure && SSL_CTX_set_default_verify_paths(ctx) != 1)
    MC_LOGW("tls", "could not load the default trust store");
  SSL_CTX_set_verify(ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
  return ctx;
}

/* Returns a context the caller owns one reference to. */
static SSL_CTX *get_ctx(bool insecure) {
  if (insecure) return new_ctx(true);
  const char *f = getenv("SSL_CERT_FILE"), *d = getenv("SSL_CERT_DIR");
  f = f ? f : "";
  d = d ? d : "";
  SSL_CTX *ctx = NULL;
  pthread_mutex_lock(&ctx_lock);
  if (shared_ctx && strcmp(f, shared_file) == 0 && strcmp(d, shared_dir) == 0) {
    ctx = shared_ctx;
  } else if (strlen(f) < sizeof shared_file && strlen(d) < sizeof shared_dir) {
    ctx = new_ctx(false);
    if (ctx) {
      SSL_CTX_free(shared_ctx);
      shared_ctx = ctx;
      strcpy(shared_file, f);
      strcpy(shared_dir, d);
    }
  } else {
    ctx = new_ctx(false); /* unusually long paths: no sharing */
    pthread_mutex_unlock(&ctx_lock);
    return ctx;
  }
  if (ctx) SSL_CTX_up_ref(ctx);
  pthread_mutex_unlock(&ctx_lock);
  return ctx;
}

int mc_tls_client_new(const mc_addr *to, const char *server_name, bool insecure, SSL **ssl_out, BIO **rbio,
                      BIO **wbio) {
  SSL_CTX *ctx = NULL;
  SSL *ssl = NULL;
  BIO *r = NULL, *w = NULL;
  int rc = MC_ETLS;
  ERR_clear_error();
  ctx = get_ctx(insecure);
  if (!ctx) goto fail;
  ssl = SSL_new(ctx);
  if (!ssl) goto fail;
  r = BIO_new(BIO_s_mem());
  w = BIO_new(BIO_s_mem());
  if (!r || !w) {
    rc = MC_ENOMEM;
    goto fail;
  }
  /* An empty read BIO means "wait for more", not end of stream. */
  BIO_set_mem_eof_return(r, -1);
  BIO_set_mem_eof_return(w, -1);
  SSL_set_bio(ssl, r, w); /* ssl owns both now */
  SSL_set_connect_state(ssl);
  /* RFC 6066 3: SNI carries a host name, never an IP literal. */
  if (server_name && server_name[0]) {
    mc_addr probe;
    if (mc_addr_parse(server_name, 0, &probe) != 0 && SSL_set_tlsext_host_name(ssl, server_name) != 1) goto fail_ssl;
  }
  if (!insecure) {
    /* RFC 6125 6: the certificate must name the host we meant to reach. */
    if (server_name && server_name[0]) {
      mc_addr probe;
      if (mc_addr_parse(server_name, 0, &probe) == 0) {
        char ip[MC_ADDR_STRLEN];
        if (probe.u.sa.sa_family == AF_INET6) probe.u.in6.sin6_scope_id = 0;
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), mc_addr_ip_str(&probe, ip)) != 1) goto fail_ssl;
      } else if (SSL_set1_host(ssl, server_name) != 1) {
        goto fail_ssl;
      }
    } else {
      char ip[MC_ADDR_STRLEN];
      mc_addr bare = *to;
      if (bare.u.sa.sa_family == AF_INET6) bare.u.in6.sin6_scope_id = 0;
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), mc_addr_ip_str(&bare, ip)) != 1) goto fail_ssl;
    }
  }
  SSL_CTX_free(ctx); /* the SSL keeps its own reference */
  *ssl_out = ssl;
  *rbio = r;
  *wbio = w;
  return 0;
fail_ssl:
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return MC_ETLS;
fail:
  BIO_free(r);
  BIO_free(w);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return rc;
}

void mc_tls_failure_text(SSL *ssl, int ssl_err, bool up, const mc_addr *to, char *buf, size_t cap) {
  char as[MC_ADDR_STRLEN];
  long vr = SSL_get_verify_result(ssl);
  /* Without verification (insecure) OpenSSL still records why the chain
   * would not verify, but that was not the failure: a broken record after
   * the handshake would be blamed on the certificate (found by fuzz_turn). */
  if (vr != X509_V_OK && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) {
    snprintf(buf, cap, mc_tr("the server's certificate did not verify (%s)"), X509_verify_cert_error_string(vr));
    return;
  }
  unsigned long e = ERR_peek_last_error();
  if (e) {
    char reason[160];
    const char *rs = ERR_reason_error_string(e);
    snprintf(reason, sizeof reason, "%s", rs ? rs : "unknown error");
    snprintf(buf, cap, up ? mc_tr("the TLS connection with %s failed (%s)") : mc_tr("the TLS handshake with %s failed (%s)"),
             mc_addr_str(to, as), reason);
  } else {
    snprintf(buf, cap,
             up ? mc_tr("the TLS connection with %s failed (error %d)") : mc_tr("the TLS handshake with %s failed (error %d)"),
             mc_addr_str(to, as), ssl_err);
  }
}
