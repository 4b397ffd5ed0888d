/* dtls: DTLS 1.2 (OpenSSL, memory BIOs) over a datagram path the caller
 * owns (the selected ICE pair), for DTLS-SRTP (RFC 5763, RFC 5764) and for
 * SCTP over DTLS (RFC 8261). No sockets and no loop here: the caller feeds
 * received records in with mc_dtls_receive, records to send come out through
 * the send callback, and the caller drives retransmission with
 * mc_dtls_timeout_ms / mc_dtls_handle_timeout on its loop.
 *
 *   mc_dtls_cert_generate(&cert);  mc_dtls_cert_fingerprint(cert, fp) -> SDP
 *   mc_dtls_new(&config{role, cert, remote fingerprint}, &cbs, user, &d);
 *   mc_dtls_start(d);                       client: sends ClientHello
 *   mc_dtls_receive(d, datagram)            each datagram whose first byte is 20..63
 *   on_connected -> mc_dtls_srtp_keys(d, &keys), mc_dtls_send(d, sctp packet)
 *   mc_dtls_close(d) (close_notify), mc_dtls_free(d)
 *
 * Fails closed: the peer's certificate is checked against the signaled
 * fingerprint inside the handshake; a mismatch aborts it with a
 * bad_certificate alert to the peer and on_failed(MC_ETLS, sentence). */
#ifndef MC_DTLS_H
#define MC_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

#define MC_DTLS_FP_MAX 64          /* bytes of the longest fingerprint (sha-512) */
#define MC_DTLS_FP_SHA256_LEN 32
#define MC_DTLS_FP_STRLEN 200      /* "AB:CD:..." for sha-512 plus NUL */
#define MC_DTLS_DEFAULT_MTU 1200   /* path MTU assumed for handshake flights */
#define MC_DTLS_MAX_RECORD 16384   /* largest application payload in one mc_dtls_send */
#define MC_DTLS_RTO_DEFAULT_MS 1000 /* RFC 6347 4.2.4.1: initial timer 1 s */
#define MC_DTLS_RTO_MAX_MS 8000     /* cap of the doubled timer: a call, not a file transfer */
#define MC_DTLS_MAX_RETRANSMITS 8   /* unanswered retransmissions of one flight, then on_failed(MC_ETIMEDOUT) */

/* ---- certificates ---- */
typedef struct mc_dtls_cert mc_dtls_cert;

/* A fresh ECDSA P-256 key and a self-signed certificate for it (random
 * serial, CN "medcall", valid from one day ago for 30 days), as browsers
 * make for each RTCPeerConnection. */
int mc_dtls_cert_generate(mc_dtls_cert **out);
void mc_dtls_cert_free(mc_dtls_cert *c);
/* SHA-256 over the certificate's DER (RFC 8122 5): out gets 32 bytes. */
int mc_dtls_cert_fingerprint(const mc_dtls_cert *c, uint8_t out[MC_DTLS_FP_SHA256_LEN]);
/* Upper-case hex pairs joined by ':' as a=fingerprint carries them. */
int mc_dtls_fingerprint_format(const uint8_t *fp, size_t len, char *out, size_t cap);
/* The code doctor and patient read to each other (issue 6 item 3): both
 * fingerprints as mc_dtls_fingerprint_format writes them (a leading
 * "sha-256 " is skipped, case is ignored), upper-cased, sorted (strcmp),
 * joined by one space; SHA-256 of that text; its first four bytes as a
 * big-endian number modulo 1,000,000, written "DDD DDD". A man in the
 * middle holds a different certificate on each side, so the codes differ.
 * The patient page computes the same (assets/web/room.js). */
#define MC_DTLS_VERIFICATION_CODE_LEN 8 /* "123 456" and NUL */
int mc_dtls_verification_code(const char *fp_a, const char *fp_b, char out[MC_DTLS_VERIFICATION_CODE_LEN]);

/* ---- endpoint ---- */
enum mc_dtls_role {
  MC_DTLS_CLIENT = 0, /* a=setup:active: sends the ClientHello */
  MC_DTLS_SERVER,     /* a=setup:passive */
};

enum mc_dtls_state {
  MC_DTLS_STATE_NEW = 0,
  MC_DTLS_STATE_CONNECTING,
  MC_DTLS_STATE_CONNECTED,
  MC_DTLS_STATE_CLOSED, /* close_notify sent or received */
  MC_DTLS_STATE_FAILED,
};
const char *mc_dtls_state_name(enum mc_dtls_state s); /* "new", "connecting", ... */

/* DTLS-SRTP protection profiles (RFC 5764 4.1.2, RFC 7714 14.2). */
enum mc_dtls_srtp_profile {
  MC_DTLS_SRTP_NONE = 0,
  MC_DTLS_SRTP_AES128_CM_SHA1_80 = 0x0001,
  MC_DTLS_SRTP_AEAD_AES_128_GCM = 0x0007,
};
const char *mc_dtls_srtp_profile_name(enum mc_dtls_srtp_profile p); /* "SRTP_AEAD_AES_128_GCM", ... */

/* Keying material exported with "EXTRACTOR-dtls_srtp" (RFC 5764 4.2):
 * client_write_key, server_write_key, client_write_salt, server_write_salt.
 * Secret: never log it; clear it when done. */
struct mc_dtls_srtp_keys {
  enum mc_dtls_srtp_profile profile;
  size_t key_len;  /* 16 for both profiles */
  size_t salt_len; /* 14 for AES-CM, 12 for AES-GCM */
  uint8_t client_key[32], client_salt[14];
  uint8_t server_key[32], server_salt[14];
  bool we_are_client; /* our write key is the client's */
};

struct mc_dtls_config {
  enum mc_dtls_role role;
  const mc_dtls_cert *cert; /* borrowed: must outlive the endpoint */
  /* The fingerprint the peer signaled (a=fingerprint). algorithm is the SDP
   * hash name ("sha-256", "sha-1", "sha-384", "sha-512", any case). */
  const char *remote_fp_algorithm;
  const uint8_t *remote_fp;
  size_t remote_fp_len;
  size_t mtu;       /* 0: MC_DTLS_DEFAULT_MTU; at least 256 */
  bool use_srtp;    /* offer/accept use_srtp with both profiles, GCM preferred */
  /* First handshake retransmission timeout in ms, doubled per retransmission
   * up to MC_DTLS_RTO_MAX_MS (RFC 6347 4.2.4.1). 0: MC_DTLS_RTO_DEFAULT_MS.
   * A caller that knows the ICE round trip may pass a small multiple of it. */
  uint32_t rto_ms;
};

struct mc_dtls_callbacks {
  /* One datagram for the peer. May run inside any mc_dtls_* call. */
  void (*send)(const uint8_t *data, size_t len, void *user);
  /* Handshake done and the peer certificate matched the fingerprint. */
  void (*on_connected)(void *user);
  /* Application data from the peer (SCTP packets). */
  void (*on_data)(const uint8_t *data, size_t len, void *user);
  /* The peer sent close_notify. */
  void (*on_closed)(void *user);
  /* The handshake failed or the connection broke: err is MC_ETLS (or
   * MC_ETIMEDOUT after the retransmission limit), sentence says why for a
   * person (e.g. "the peer's DTLS certificate does not match the
   * fingerprint it signaled; the call was refused"). No callback after this. */
  void (*on_failed)(int err, const char *sentence, void *user);
};

/* Callbacks must not call mc_dtls_free; every other mc_dtls_* call is fine. */
typedef struct mc_dtls mc_dtls;

int mc_dtls_new(const struct mc_dtls_config *config, const struct mc_dtls_callbacks *cbs, void *user,
                mc_dtls **out);
/* Client: sends the first flight. Server: waits for a ClientHello. */
int mc_dtls_start(mc_dtls *d);
/* One datagram from the peer (RFC 7983: first byte 20..63). Never trusts a
 * length in it; garbage is dropped (returns MC_EPARSE) without failing the
 * connection, since an off-path attacker can send it. Records that frame
 * well but fail authentication are dropped silently (RFC 6347 4.1.2.7) and
 * return 0. MC_ETLS when the datagram ended the connection (on_failed ran),
 * MC_ESTATE before mc_dtls_start, MC_ECLOSED once closed or failed. */
int mc_dtls_receive(mc_dtls *d, const uint8_t *buf, size_t len);
/* One application record (len <= MC_DTLS_MAX_RECORD). MC_ESTATE before
 * connected or after close. */
int mc_dtls_send(mc_dtls *d, const uint8_t *buf, size_t len);
/* Milliseconds until mc_dtls_handle_timeout is due; -1 when no timer runs. */
int64_t mc_dtls_timeout_ms(mc_dtls *d);
/* Retransmits the last flight when its timer expired (RFC 6347 4.2.4). */
int mc_dtls_handle_timeout(mc_dtls *d);
enum mc_dtls_state mc_dtls_state(const mc_dtls *d);
/* The negotiated keys: MC_ESTATE before connected, after a failure, without
 * use_srtp, or when the peer did not negotiate use_srtp (the handshake
 * itself still succeeds then). Still available after close. */
int mc_dtls_srtp_keys(const mc_dtls *d, struct mc_dtls_srtp_keys *out);
/* Sends close_notify (once) when connected; state closed. During the
 * handshake nothing is sent (OpenSSL has no close before it finishes). */
void mc_dtls_close(mc_dtls *d);
void mc_dtls_free(mc_dtls *d);

/* ---- RFC 7983 demultiplexing of one datagram by its first byte ---- */
enum mc_demux {
  MC_DEMUX_DROP = 0, /* empty or a range no one owns */
  MC_DEMUX_STUN,     /* 0..3 */
  MC_DEMUX_ZRTP,     /* 16..19: dropped by callers */
  MC_DEMUX_DTLS,     /* 20..63 */
  MC_DEMUX_TURN_CHANNEL, /* 64..79 */
  MC_DEMUX_RTP,      /* 128..191: RTP or RTCP (tell them apart with mc_srtp_is_rtcp) */
};
enum mc_demux mc_demux_classify(const uint8_t *buf, size_t len);

#endif
