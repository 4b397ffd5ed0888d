/* SRTP and SRTCP with libsrtp2, keyed from DTLS-SRTP (RFC 5764 4.2). */
#include "srtp/srtp.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "util/util.h"

/* Replay window for inbound SRTP (RFC 3711 3.3.2 asks for at least 64).
 * Video bursts reordered by a TURN relay or a Wi-Fi hop can exceed 64
 * packets, so we keep a wider one, as browsers do. */
#define SRTP_REPLAY_WINDOW 1024

#define RTP_FIXED_HEADER 12
#define RTCP_FIXED_HEADER 8  /* common header + sender SSRC */
#define SRTCP_INDEX_LEN 4    /* E flag + 31-bit SRTCP index, RFC 3711 3.4 */

struct mc_srtp {
  srtp_t tx; /* ssrc_any_outbound, our write key */
  srtp_t rx; /* ssrc_any_inbound, the peer's write key */
  enum mc_dtls_srtp_profile profile;
  size_t tag_len; /* auth tag of SRTP and SRTCP: 10 (AES-CM-80) or 16 (GCM) */
  uint64_t protected_pkts, unprotected_pkts, dropped_pkts;
};

/* libsrtp keeps process-wide state (crypto kernel, debug modules): one
 * srtp_init for the life of the process, never srtp_shutdown, since
 * another session may still be in use on another call. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_fail;
/* Debian's libsrtp2 runs on NSS and opens an NSS context for each cipher and
 * closes it on dealloc: when no other context is open, that initialises and
 * shuts down NSS every time, about 3 ms per mc_srtp. One idle session held
 * for the life of the process keeps NSS up, and session set-up then takes
 * microseconds. Harmless with an OpenSSL-backed libsrtp. */
static srtp_t keep_alive;

static void init_libsrtp(void) {
  init_status = srtp_init();
  if (init_status != srtp_err_status_ok) return;
  srtp_policy_t policy;
  uint8_t master[30];
  memset(&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  if (mc_random_bytes(master, sizeof master) < 0) memset(master, 0x5c, sizeof master);
  policy.ssrc.type = ssrc_any_inbound;
  policy.key = master;
  policy.window_size = 64;
  if (srtp_create(&keep_alive, &policy) != srtp_err_status_ok) keep_alive = NULL;
  explicit_bzero(master, sizeof master);
}

int mc_srtp_init(void) {
  pthread_once(&init_once, init_libsrtp);
  return init_status == srtp_err_status_ok ? 0 : MC_EINVAL;
}

static const char *profile_name(enum mc_dtls_srtp_profile p) {
  switch (p) {
  case MC_DTLS_SRTP_AES128_CM_SHA1_80: return "SRTP_AES128_CM_SHA1_80";
  case MC_DTLS_SRTP_AEAD_AES_128_GCM: return "SRTP_AEAD_AES_128_GCM";
  default: return "none";
  }
}

/* One direction: a session with a single wildcard-SSRC policy. libsrtp
 * allows one wildcard template per session, so each direction needs its
 * own session. */
static int session_new(enum mc_dtls_srtp_profile profile, srtp_ssrc_type_t dir, const uint8_t *key,
                       size_t key_len, const uint8_t *salt, size_t salt_len, srtp_t *out) {
  /* libsrtp takes the master key and salt as one buffer: key || salt. */
  uint8_t master[32 + 14];
  srtp_policy_t policy;
  int rc = MC_OK;

  memset(&policy, 0, sizeof policy);
  switch (profile) {
  case MC_DTLS_SRTP_AES128_CM_SHA1_80:
    /* RFC 5764 4.1.2: AES_CM_128 cipher, HMAC-SHA1 80-bit tag, both for
     * SRTP and SRTCP. */
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    break;
  case MC_DTLS_SRTP_AEAD_AES_128_GCM:
    /* RFC 7714 14.2: AEAD_AES_128_GCM, 16-octet tag, 12-octet salt. */
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    break;
  default:
    return MC_EINVAL;
  }
  memcpy(master, key, key_len);
  memcpy(master + key_len, salt, salt_len);
  policy.ssrc.type = dir;
  policy.ssrc.value = 0;
  policy.key = master;
  policy.window_size = SRTP_REPLAY_WINDOW;
  /* A retransmission (NACK answered without RTX) reuses the sequence
   * number with the same payload, which RFC 3711 9.1 permits for a sender;
   * the receiver's replay check stays on whatever this says. */
  policy.allow_repeat_tx = dir == ssrc_any_outbound ? 1 : 0;
  policy.next = NULL;

  srtp_err_status_t st = srtp_create(out, &policy);
  if (st != srtp_err_status_ok) {
    *out = NULL;
    MC_LOGE("srtp", "srtp_create failed status=%d", (int)st);
    rc = st == srtp_err_status_alloc_fail ? MC_ENOMEM : MC_EINVAL;
  }
  explicit_bzero(master, sizeof master);
  return rc;
}

int mc_srtp_new(const struct mc_dtls_srtp_keys *keys, mc_srtp **out) {
  mc_srtp *s = NULL;
  int rc;

  if (!keys || !out) return MC_EINVAL;
  *out = NULL;

  size_t want_salt;
  switch (keys->profile) {
  case MC_DTLS_SRTP_AES128_CM_SHA1_80: want_salt = 14; break;
  case MC_DTLS_SRTP_AEAD_AES_128_GCM: want_salt = 12; break;
  default: return MC_EINVAL;
  }
  if (keys->key_len != 16 || keys->salt_len != want_salt) return MC_EINVAL;

  pthread_once(&init_once, init_libsrtp);
  if (init_status != srtp_err_status_ok) {
    MC_LOGE("srtp", "srtp_init failed status=%d", (int)init_status);
    return MC_EINVAL;
  }

  s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  s->profile = keys->profile;
  s->tag_len = keys->profile == MC_DTLS_SRTP_AEAD_AES_128_GCM ? 16 : 10;

  /* RFC 5764 4.2: the client protects with client_write_key/salt and the
   * server with server_write_key/salt; each unprotects with the other's. */
  const uint8_t *our_key = keys->we_are_client ? keys->client_key : keys->server_key;
  const uint8_t *our_salt = keys->we_are_client ? keys->client_salt : keys->server_salt;
  const uint8_t *peer_key = keys->we_are_client ? keys->server_key : keys->client_key;
  const uint8_t *peer_salt = keys->we_are_client ? keys->server_salt : keys->client_salt;

  rc = session_new(keys->profile, ssrc_any_outbound, our_key, keys->key_len, our_salt, keys->salt_len, &s->tx);
  if (rc < 0) goto fail;
  rc = session_new(keys->profile, ssrc_any_inbound, peer_key, keys->key_len, peer_salt, keys->salt_len, &s->rx);
  if (rc < 0) goto fail;

  MC_LOGI("srtp", "session ready profile=%s role=%s", profile_name(s->profile),
          keys->we_are_client ? "client" : "server");
  *out = s;
  return MC_OK;

fail:
  mc_srtp_free(s);
  return rc;
}

void mc_srtp_free(mc_srtp *s) {
  if (!s) return;
  MC_LOGD("srtp", "session closed profile=%s protected=%llu unprotected=%llu dropped=%llu",
          profile_name(s->profile), (unsigned long long)s->protected_pkts,
          (unsigned long long)s->unprotected_pkts, (unsigned long long)s->dropped_pkts);
  /* srtp_dealloc zeroes the session keys libsrtp derived and holds. */
  if (s->tx) srtp_dealloc(s->tx);
  if (s->rx) srtp_dealloc(s->rx);
  explicit_bzero(s, sizeof *s);
  free(s);
}

/* RFC 3550 5.1 (and 5.3.1 for the extension): the length of the header
 * that SRTP authenticates but does not encrypt, or 0 when the packet is
 * not RTP version 2 or the header does not fit in len. */
static size_t rtp_header_len(const uint8_t *buf, size_t len) {
  if (len < RTP_FIXED_HEADER || (buf[0] >> 6) != 2) return 0;
  size_t h = RTP_FIXED_HEADER + 4 * (size_t)(buf[0] & 0x0f);
  if (buf[0] & 0x10) {
    if (h + 4 > len) return 0;
    h += 4 + 4 * (((size_t)buf[h + 2] << 8) | buf[h + 3]);
  }
  return h <= len ? h : 0;
}

static bool rtcp_header_ok(const uint8_t *buf, size_t len) {
  return len >= RTCP_FIXED_HEADER && (buf[0] >> 6) == 2;
}

static int map_protect_err(srtp_err_status_t st) {
  switch (st) {
  case srtp_err_status_alloc_fail: return MC_ENOMEM;
  case srtp_err_status_bad_param:
  case srtp_err_status_parse_err: return MC_EPARSE;
  /* RFC 3711 3.3.1: the index must never repeat under one key. */
  case srtp_err_status_key_expired: return MC_ESTATE;
  default: return MC_EINVAL;
  }
}

static int map_unprotect_err(srtp_err_status_t st) {
  switch (st) {
  case srtp_err_status_bad_param:
  case srtp_err_status_parse_err: return MC_EPARSE;
  case srtp_err_status_alloc_fail: return MC_ENOMEM;
  /* auth_fail, replay_fail, replay_old and any other refusal (e.g. a GCM
   * cipher_fail): the packet is not authentic for us. */
  default: return MC_EAUTH;
  }
}

static int protect(mc_srtp *s, bool rtcp, uint8_t *buf, size_t len, size_t cap, size_t *out_len) {
  if (!s || !buf || !out_len) return MC_EINVAL;
  if (rtcp ? !rtcp_header_ok(buf, len) : rtp_header_len(buf, len) == 0) return MC_EPARSE;
  size_t growth = s->tag_len + (rtcp ? SRTCP_INDEX_LEN : 0);
  if (len > (size_t)INT_MAX - growth || cap < len + growth) return MC_ETOOBIG;

  int n = (int)len;
  srtp_err_status_t st = rtcp ? srtp_protect_rtcp(s->tx, buf, &n) : srtp_protect(s->tx, buf, &n);
  if (st != srtp_err_status_ok) return map_protect_err(st);
  if (n < 0 || (size_t)n > cap) return MC_EINVAL; /* cannot happen: growth is exact */
  s->protected_pkts++;
  *out_len = (size_t)n;
  return MC_OK;
}

static int unprotect(mc_srtp *s, bool rtcp, uint8_t *buf, size_t len, size_t *out_len) {
  if (!s || !buf || !out_len) return MC_EINVAL;
  size_t min;
  if (rtcp) {
    if (!rtcp_header_ok(buf, len)) goto short_packet;
    min = RTCP_FIXED_HEADER + SRTCP_INDEX_LEN + s->tag_len;
  } else {
    size_t h = rtp_header_len(buf, len);
    if (h == 0) goto short_packet;
    min = h + s->tag_len;
  }
  if (len < min) goto short_packet;
  if (len > (size_t)INT_MAX) goto short_packet; /* no datagram is this long */

  int n = (int)len;
  srtp_err_status_t st = rtcp ? srtp_unprotect_rtcp(s->rx, buf, &n) : srtp_unprotect(s->rx, buf, &n);
  if (st != srtp_err_status_ok) {
    s->dropped_pkts++;
    return map_unprotect_err(st);
  }
  if (n < 0 || (size_t)n > len) return MC_EINVAL;
  s->unprotected_pkts++;
  *out_len = (size_t)n;
  return MC_OK;

short_packet:
  s->dropped_pkts++;
  return MC_EPARSE;
}

int mc_srtp_protect_rtp(mc_srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len) {
  return protect(s, false, buf, len, cap, out_len);
}

int mc_srtp_protect_rtcp(mc_srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len) {
  return protect(s, true, buf, len, cap, out_len);
}

int mc_srtp_unprotect_rtp(mc_srtp *s, uint8_t *buf, size_t len, size_t *out_len) {
  return unprotect(s, false, buf, len, out_len);
}

int mc_srtp_unprotect_rtcp(mc_srtp *s, uint8_t *buf, size_t len, size_t *out_len) {
  return unprotect(s, true, buf, len, out_len);
}

/* RFC 5761 4: RTCP packet types 192..223 (SR 200, RR 201, SDES 202, BYE
 * 203, APP 204, RTPFB 205, PSFB 206, XR 207) occupy the byte where RTP has
 * marker + payload type; RTP payload types 64..95 are not to be used, so
 * the two cannot collide. A packet shorter than the RTCP header plus the
 * sender SSRC is not RTCP. */
bool mc_srtp_is_rtcp(const uint8_t *buf, size_t len) {
  if (!buf || len < RTCP_FIXED_HEADER || (buf[0] >> 6) != 2) return false;
  return buf[1] >= 192 && buf[1] <= 223;
}
