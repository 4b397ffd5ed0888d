/* A DTLS 1.2 endpoint (RFC 6347) for DTLS-SRTP (RFC 5763, RFC 5764) and
 * SCTP over DTLS (RFC 8261): OpenSSL's state machine behind a datagram BIO
 * (bio.c), the peer's certificate checked against the signaled fingerprint
 * inside the handshake, retransmission timers driven by the caller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dtls/dtls_private.h"
#include "util/util.h"

#define LOG "dtls"

/* What browsers offer over DTLS 1.2, AEAD first. The RSA suites are there
 * for a peer whose certificate is RSA (RTCPeerConnection.generateCertificate
 * allows it); ours is ECDSA. */
#define CIPHERS                                                                                       \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                       \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                       \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                       \
  "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"
/* Browsers' DTLS 1.2 key exchange groups; their post-quantum shares are
 * TLS 1.3 key_share entries that a DTLS 1.2 server ignores. */
#define GROUPS "X25519:P-256:P-384"
/* RFC 5764 4.1.2 and RFC 7714 14.2; the server's order wins in OpenSSL. */
#define SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
/* RFC 5764 4.2 */
#define SRTP_EXPORT_LABEL "EXTRACTOR-dtls_srtp"

#define MIN_MTU 256

struct mc_dtls {
  SSL *ssl;
  BIO_METHOD *bio_method;
  struct mc_dtls_bio_io io;
  struct mc_dtls_callbacks cbs;
  void *user;
  enum mc_dtls_role role;
  enum mc_dtls_state state;
  bool use_srtp;
  bool handshake_done;
  bool close_sent;
  bool fp_mismatch;       /* our verify callback refused the peer's certificate */
  int alert_received;     /* the last alert the peer sent, -1 for none */
  const EVP_MD *fp_md;
  uint8_t remote_fp[MC_DTLS_FP_MAX];
  size_t remote_fp_len;
  size_t mtu;
  uint32_t rto_ms;
  unsigned retransmits;   /* of the current flight */
  uint64_t t_start_ms;
  uint8_t rx[MC_DTLS_MAX_RECORD];
};

const char *mc_dtls_state_name(enum mc_dtls_state s) {
  switch (s) {
  case MC_DTLS_STATE_NEW: return "new";
  case MC_DTLS_STATE_CONNECTING: return "connecting";
  case MC_DTLS_STATE_CONNECTED: return "connected";
  case MC_DTLS_STATE_CLOSED: return "closed";
  case MC_DTLS_STATE_FAILED: return "failed";
  }
  return "unknown";
}

const char *mc_dtls_srtp_profile_name(enum mc_dtls_srtp_profile p) {
  switch (p) {
  case MC_DTLS_SRTP_NONE: return "none";
  case MC_DTLS_SRTP_AES128_CM_SHA1_80: return "SRTP_AES128_CM_SHA1_80";
  case MC_DTLS_SRTP_AEAD_AES_128_GCM: return "SRTP_AEAD_AES_128_GCM";
  }
  return "unknown";
}

static const char *role_name(enum mc_dtls_role r) { return r == MC_DTLS_CLIENT ? "client" : "server"; }

/* RFC 8122 5 hash function names (RFC 4572 3); MD2 and MD5 are refused. */
static const EVP_MD *fp_md_from_name(const char *name) {
  if (!name) return NULL;
  if (strcasecmp(name, "sha-1") == 0) return EVP_sha1();
  if (strcasecmp(name, "sha-224") == 0) return EVP_sha224();
  if (strcasecmp(name, "sha-256") == 0) return EVP_sha256();
  if (strcasecmp(name, "sha-384") == 0) return EVP_sha384();
  if (strcasecmp(name, "sha-512") == 0) return EVP_sha512();
  return NULL;
}

static bool fp_matches(const mc_dtls *d, X509 *cert) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || !X509_digest(cert, d->fp_md, md, &n)) return false;
  return n == d->remote_fp_len && mc_secure_equal(md, d->remote_fp, n);
}

/* RFC 5763 6.5 / RFC 8122 5: the certificate is self-signed and trusted
 * only through the fingerprint the peer signaled, so the chain is accepted
 * as it is and the leaf's digest decides. Refusing here makes OpenSSL abort
 * the handshake with a bad_certificate alert, so the peer fails too. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *xs) {
  (void)preverify_ok;
  SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
  mc_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
  if (!d) return 0;
  if (X509_STORE_CTX_get_error_depth(xs) != 0) return 1;
  if (fp_matches(d, X509_STORE_CTX_get_current_cert(xs))) return 1;
  d->fp_mismatch = true;
  X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
  return 0;
}

int mc_dtls_ctx_new(EVP_PKEY *key, X509 *x509, SSL_CTX **out) {
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  if (!ctx) return MC_ENOMEM;
  if (!SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) || !SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION))
    goto fail;
  /* No query of a socket's MTU (there is none), no tickets or cache (every
   * association is new), and no renegotiation: the keys SRTP was given at
   * the handshake must stay the keys. */
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (!SSL_CTX_set_cipher_list(ctx, CIPHERS)) goto fail;
  if (!SSL_CTX_set1_groups_list(ctx, GROUPS)) goto fail;
  if (!SSL_CTX_use_certificate(ctx, x509) || !SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx))
    goto fail;
  /* Both roles ask for the peer's certificate (RFC 5763 5: the server
   * sends CertificateRequest) and fail without one. */
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
  *out = ctx;
  return MC_OK;
fail:
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return MC_ENOMEM;
}

static void fail(mc_dtls *d, int err, const char *sentence) {
  if (d->state == MC_DTLS_STATE_FAILED || d->state == MC_DTLS_STATE_CLOSED) return;
  d->state = MC_DTLS_STATE_FAILED;
  MC_LOGW(LOG, "failed role=%s err=%s reason=\"%s\"", role_name(d->role), mc_strerror(err), sentence);
  if (d->cbs.on_failed) d->cbs.on_failed(err, sentence, d->user);
}

/* One sentence for a person from what OpenSSL and the peer said. */
static void fail_tls(mc_dtls *d) {
  char sentence[400];
  unsigned long e = ERR_peek_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  if (d->fp_mismatch)
    snprintf(sentence, sizeof sentence,
             mc_tr("the peer's DTLS certificate does not match the fingerprint it signaled; the call was refused"));
  else if (d->alert_received == SSL_AD_BAD_CERTIFICATE)
    snprintf(sentence, sizeof sentence,
             mc_tr("the peer refused our DTLS certificate: it does not match the fingerprint the peer received; "
             "the call was refused"));
  else if (d->alert_received >= 0 && d->handshake_done)
    snprintf(sentence, sizeof sentence, mc_tr("the peer ended the DTLS connection with the alert \"%s\""),
             SSL_alert_desc_string_long(d->alert_received));
  else if (d->alert_received >= 0)
    snprintf(sentence, sizeof sentence, mc_tr("the peer ended the DTLS handshake with the alert \"%s\""),
             SSL_alert_desc_string_long(d->alert_received));
  else if (d->handshake_done)
    snprintf(sentence, sizeof sentence, mc_tr("the DTLS connection with the peer failed (%s)"),
             reason ? reason : "unknown error");
  else
    snprintf(sentence, sizeof sentence, mc_tr("the DTLS handshake with the peer failed (%s)"),
             reason ? reason : "unknown error");
  ERR_clear_error();
  fail(d, MC_ETLS, sentence);
}

static void info_cb(const SSL *ssl, int where, int ret) {
  mc_dtls *d = SSL_get_app_data(ssl);
  if (!d || !(where & SSL_CB_ALERT)) return;
  if (where & SSL_CB_READ) d->alert_received = ret & 0xff;
  MC_LOGD(LOG, "alert %s role=%s level=%s desc=\"%s\"", (where & SSL_CB_READ) ? "received" : "sent",
          role_name(d->role), SSL_alert_type_string_long(ret), SSL_alert_desc_string_long(ret));
}

/* RFC 6347 4.2.4.1: the timer starts at rto_ms for each new flight and
 * doubles on each retransmission. OpenSSL calls this with 0 when a flight
 * starts and with the expired duration when it retransmits, inside
 * mc_dtls_handle_timeout or inside a read that finds the timer expired. */
static unsigned int timer_cb(SSL *ssl, unsigned int timer_us) {
  mc_dtls *d = SSL_get_app_data(ssl);
  uint32_t rto_ms = d ? d->rto_ms : MC_DTLS_RTO_DEFAULT_MS;
  if (timer_us == 0) {
    if (d) d->retransmits = 0;
    return rto_ms * 1000u;
  }
  if (d) {
    d->retransmits++;
    MC_LOGD(LOG, "retransmit role=%s count=%u", role_name(d->role), d->retransmits);
  }
  uint64_t next = (uint64_t)timer_us * 2;
  return (unsigned int)MC_MIN(next, (uint64_t)MC_DTLS_RTO_MAX_MS * 1000u);
}

int mc_dtls_new(const struct mc_dtls_config *config, const struct mc_dtls_callbacks *cbs, void *user,
                mc_dtls **out) {
  if (!out) return MC_EINVAL;
  *out = NULL;
  if (!config || !cbs || !config->cert || !config->cert->ctx) return MC_EINVAL;
  if (config->role != MC_DTLS_CLIENT && config->role != MC_DTLS_SERVER) return MC_EINVAL;
  const EVP_MD *md = fp_md_from_name(config->remote_fp_algorithm);
  if (!md || !config->remote_fp || config->remote_fp_len != (size_t)EVP_MD_get_size(md) ||
      config->remote_fp_len > MC_DTLS_FP_MAX)
    return MC_EINVAL;
  size_t mtu = config->mtu ? config->mtu : MC_DTLS_DEFAULT_MTU;
  if (mtu < MIN_MTU || mtu > 65507) return MC_EINVAL;

  int rc = MC_ENOMEM;
  mc_dtls *d = calloc(1, sizeof *d);
  if (!d) return MC_ENOMEM;
  d->cbs = *cbs;
  d->user = user;
  d->role = config->role;
  d->state = MC_DTLS_STATE_NEW;
  d->use_srtp = config->use_srtp;
  d->alert_received = -1;
  d->fp_md = md;
  memcpy(d->remote_fp, config->remote_fp, config->remote_fp_len);
  d->remote_fp_len = config->remote_fp_len;
  d->mtu = mtu;
  d->rto_ms = config->rto_ms ? config->rto_ms : MC_DTLS_RTO_DEFAULT_MS;
  if (d->rto_ms > MC_DTLS_RTO_MAX_MS) d->rto_ms = MC_DTLS_RTO_MAX_MS;
  d->io.send = cbs->send;
  d->io.user = user;

  if (!(d->ssl = SSL_new(config->cert->ctx))) goto fail;
  if (!SSL_set_app_data(d->ssl, d)) goto fail;
  if (!(d->bio_method = mc_dtls_bio_method_new())) goto fail;
  BIO *bio = mc_dtls_bio_new(d->bio_method, &d->io);
  if (!bio) goto fail;
  SSL_set_bio(d->ssl, bio, bio); /* one reference, owned by the SSL */
  /* RFC 6347 4.1.1.1: handshake messages are fragmented to the path MTU,
   * here the ICE pair's, since browsers drop nothing larger than 1200. */
  if (SSL_set_mtu(d->ssl, (long)mtu) <= 0) {
    rc = MC_EINVAL;
    goto fail;
  }
  if (d->use_srtp && SSL_set_tlsext_use_srtp(d->ssl, SRTP_PROFILES) != 0) goto fail; /* 0 is success */
  DTLS_set_timer_cb(d->ssl, timer_cb);
  SSL_set_info_callback(d->ssl, info_cb);
  *out = d;
  return MC_OK;
fail:
  ERR_clear_error();
  mc_dtls_free(d);
  return rc;
}

void mc_dtls_free(mc_dtls *d) {
  if (!d) return;
  SSL_free(d->ssl); /* frees the BIO */
  BIO_meth_free(d->bio_method);
  OPENSSL_cleanse(d->rx, sizeof d->rx);
  free(d);
}

enum mc_dtls_state mc_dtls_state(const mc_dtls *d) { return d ? d->state : MC_DTLS_STATE_FAILED; }

/* Reads what the records of the last datagram hold for the application,
 * until OpenSSL wants the next datagram. */
static void read_records(mc_dtls *d) {
  while (d->state == MC_DTLS_STATE_CONNECTED) {
    ERR_clear_error();
    int n = SSL_read(d->ssl, d->rx, sizeof d->rx);
    if (n > 0) {
      if (d->cbs.on_data) d->cbs.on_data(d->rx, (size_t)n, d->user);
      continue;
    }
    int e = SSL_get_error(d->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    if (e == SSL_ERROR_ZERO_RETURN) {
      /* RFC 5246 7.2.1: answer close_notify with our own. */
      d->state = MC_DTLS_STATE_CLOSED;
      MC_LOGI(LOG, "closed by peer role=%s", role_name(d->role));
      if (!d->close_sent) {
        d->close_sent = true;
        SSL_shutdown(d->ssl);
        ERR_clear_error();
      }
      if (d->cbs.on_closed) d->cbs.on_closed(d->user);
      return;
    }
    fail_tls(d);
    return;
  }
}

static void handshake_done(mc_dtls *d) {
  d->handshake_done = true;
  /* The verify callback has run on the leaf; checked once more here in
   * case a chain ever kept OpenSSL from calling it at depth 0. */
  if (!fp_matches(d, SSL_get0_peer_certificate(d->ssl))) {
    d->fp_mismatch = true;
    d->close_sent = true;
    SSL_shutdown(d->ssl);
    ERR_clear_error();
    fail_tls(d);
    return;
  }
  const SRTP_PROTECTION_PROFILE *p = d->use_srtp ? SSL_get_selected_srtp_profile(d->ssl) : NULL;
  if (d->use_srtp && !p) MC_LOGW(LOG, "peer did not negotiate use_srtp role=%s", role_name(d->role));
  d->state = MC_DTLS_STATE_CONNECTED;
  MC_LOGI(LOG, "connected role=%s cipher=%s srtp=%s ms=%llu", role_name(d->role), SSL_get_cipher_name(d->ssl),
          p ? p->name : "none", (unsigned long long)(mc_now_ms() - d->t_start_ms));
  if (d->cbs.on_connected) d->cbs.on_connected(d->user);
}

/* Runs the handshake or reads records after a datagram came in or a timer
 * fired. */
static void advance(mc_dtls *d) {
  if (d->state == MC_DTLS_STATE_CONNECTING) {
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
      handshake_done(d);
    } else {
      int e = SSL_get_error(d->ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail_tls(d);
        return;
      }
    }
  }
  /* Records after the Finished in the same datagram, or data later on. */
  read_records(d);
}

int mc_dtls_start(mc_dtls *d) {
  if (!d) return MC_EINVAL;
  if (d->state != MC_DTLS_STATE_NEW) return MC_ESTATE;
  d->state = MC_DTLS_STATE_CONNECTING;
  d->t_start_ms = mc_now_ms();
  MC_LOGD(LOG, "start role=%s mtu=%zu srtp=%d", role_name(d->role), d->mtu, d->use_srtp);
  if (d->role == MC_DTLS_SERVER) {
    SSL_set_accept_state(d->ssl);
    return MC_OK;
  }
  SSL_set_connect_state(d->ssl);
  advance(d);
  return d->state == MC_DTLS_STATE_FAILED ? MC_ETLS : MC_OK;
}

int mc_dtls_receive(mc_dtls *d, const uint8_t *buf, size_t len) {
  if (!d || (!buf && len)) return MC_EINVAL;
  if (d->state == MC_DTLS_STATE_NEW) return MC_ESTATE;
  if (d->state == MC_DTLS_STATE_CLOSED || d->state == MC_DTLS_STATE_FAILED) return MC_ECLOSED;
  if (mc_dtls_record_check(buf, len) < 0) {
    MC_LOGD(LOG, "dropped datagram role=%s len=%zu", role_name(d->role), len);
    return MC_EPARSE;
  }
  d->io.in = buf;
  d->io.in_len = len;
  advance(d);
  /* OpenSSL may leave a datagram unread (after a fatal alert, say); it must
   * not be read later out of the caller's buffer. */
  d->io.in = NULL;
  d->io.in_len = 0;
  return d->state == MC_DTLS_STATE_FAILED ? MC_ETLS : MC_OK;
}

int mc_dtls_send(mc_dtls *d, const uint8_t *buf, size_t len) {
  if (!d || !buf || len == 0 || len > MC_DTLS_MAX_RECORD) return MC_EINVAL;
  if (d->state != MC_DTLS_STATE_CONNECTED) return MC_ESTATE;
  ERR_clear_error();
  int n = SSL_write(d->ssl, buf, (int)len);
  if (n == (int)len) return MC_OK;
  int e = SSL_get_error(d->ssl, n);
  if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
    ERR_clear_error();
    return MC_EIO;
  }
  fail_tls(d);
  return MC_ETLS;
}

int64_t mc_dtls_timeout_ms(mc_dtls *d) {
  if (!d || (d->state != MC_DTLS_STATE_CONNECTING && d->state != MC_DTLS_STATE_CONNECTED)) return -1;
  struct timeval tv;
  if (DTLSv1_get_timeout(d->ssl, &tv) != 1) return -1;
  return (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

int mc_dtls_handle_timeout(mc_dtls *d) {
  if (!d) return MC_EINVAL;
  if (d->state != MC_DTLS_STATE_CONNECTING && d->state != MC_DTLS_STATE_CONNECTED) return MC_OK;
  struct timeval tv;
  if (DTLSv1_get_timeout(d->ssl, &tv) != 1 || tv.tv_sec > 0 || tv.tv_usec > 0) return MC_OK;
  if (d->retransmits >= MC_DTLS_MAX_RETRANSMITS) {
    fail(d, MC_ETIMEDOUT,
         mc_tr("the peer did not answer the DTLS handshake; the network may block the call or the peer has left"));
    return MC_ETIMEDOUT;
  }
  ERR_clear_error();
  if (DTLSv1_handle_timeout(d->ssl) < 0) {
    fail_tls(d);
    return MC_ETLS;
  }
  return MC_OK;
}

/* RFC 5764 4.2: client_write_SRTP_master_key | server_write_SRTP_master_key
 * | client_write_SRTP_master_salt | server_write_SRTP_master_salt. */
int mc_dtls_srtp_keys(const mc_dtls *d, struct mc_dtls_srtp_keys *out) {
  if (!d || !out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  if (!d->handshake_done || d->state == MC_DTLS_STATE_FAILED || !d->use_srtp) return MC_ESTATE;
  const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
  if (!p) return MC_ESTATE;
  size_t key_len = 16, salt_len;
  switch (p->id) {
  case MC_DTLS_SRTP_AES128_CM_SHA1_80: salt_len = 14; break;
  case MC_DTLS_SRTP_AEAD_AES_128_GCM: salt_len = 12; break; /* RFC 7714 12 */
  default: return MC_ESTATE;
  }
  uint8_t km[2 * (32 + 14)];
  size_t km_len = 2 * (key_len + salt_len);
  int rc = MC_OK;
  if (SSL_export_keying_material(d->ssl, km, km_len, SRTP_EXPORT_LABEL, strlen(SRTP_EXPORT_LABEL), NULL, 0, 0) != 1) {
    ERR_clear_error();
    rc = MC_ETLS;
    goto done;
  }
  out->profile = (enum mc_dtls_srtp_profile)p->id;
  out->key_len = key_len;
  out->salt_len = salt_len;
  memcpy(out->client_key, km, key_len);
  memcpy(out->server_key, km + key_len, key_len);
  memcpy(out->client_salt, km + 2 * key_len, salt_len);
  memcpy(out->server_salt, km + 2 * key_len + salt_len, salt_len);
  out->we_are_client = d->role == MC_DTLS_CLIENT;
done:
  OPENSSL_cleanse(km, sizeof km);
  return rc;
}

void mc_dtls_close(mc_dtls *d) {
  if (!d) return;
  if (d->state == MC_DTLS_STATE_CONNECTED && !d->close_sent) {
    d->close_sent = true;
    ERR_clear_error();
    SSL_shutdown(d->ssl); /* sends close_notify (RFC 5246 7.2.1) */
    ERR_clear_error();
    MC_LOGI(LOG, "closed role=%s", role_name(d->role));
  }
  if (d->state != MC_DTLS_STATE_FAILED) d->state = MC_DTLS_STATE_CLOSED;
}
