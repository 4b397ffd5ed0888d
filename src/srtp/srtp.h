/* srtp: SRTP and SRTCP (RFC 3711, RFC 7714 AES-GCM) with libsrtp2, keyed
 * from DTLS-SRTP (RFC 5764 4.2). One mc_srtp holds both directions of one
 * DTLS association: outbound with our write key, inbound with the peer's,
 * for any SSRC. Packets are protected and unprotected in place. */
#ifndef MC_SRTP_H
#define MC_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtls/dtls.h"

/* Bytes a protected packet may grow by: auth tag (10 for AES-CM-80, 16 for
 * GCM) plus the SRTCP index (4), so protect needs cap >= len + 10 / 14
 * (AES-CM-80, RTP / RTCP) or len + 16 / 20 (GCM) and writes nothing past
 * that. Callers that do not look at the profile leave this much room:
 * libsrtp's SRTP_MAX_TRAILER_LEN (tag 16 + MKI 128) plus the SRTCP index. */
#define MC_SRTP_MAX_OVERHEAD 148

typedef struct mc_srtp mc_srtp;

/* One-time process set-up of libsrtp and its crypto back-end. The first
 * call costs about 70 ms here (NSS starting up); later ones nothing. Called
 * by mc_srtp_new when needed; call it early to keep that out of a call's
 * set-up. */
int mc_srtp_init(void);

/* keys->we_are_client picks which key is ours. The keys are copied; the
 * caller may clear its copy after this returns. */
int mc_srtp_new(const struct mc_dtls_srtp_keys *keys, mc_srtp **out);
void mc_srtp_free(mc_srtp *s);

/* buf holds len bytes of RTP (RTCP) and has room for cap bytes; on success
 * *out_len is the protected length. MC_ETOOBIG when cap is short. */
int mc_srtp_protect_rtp(mc_srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len);
int mc_srtp_protect_rtcp(mc_srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len);
/* MC_EAUTH when authentication fails or the packet is a replay (RFC 3711
 * 3.3.2: each index is taken once, within a window of 1024 packets per SSRC
 * for SRTP and 128 for SRTCP), MC_EPARSE when it is too short to be SRTP or
 * its RTP header runs past len; the packet is then to be dropped. A refused
 * packet changes no state. Protect refuses a header that does not parse with
 * MC_EPARSE; it may protect the same RTP packet (same SSRC and sequence
 * number, same bytes) again, for retransmission. One owner: not thread-safe. */
int mc_srtp_unprotect_rtp(mc_srtp *s, uint8_t *buf, size_t len, size_t *out_len);
int mc_srtp_unprotect_rtcp(mc_srtp *s, uint8_t *buf, size_t len, size_t *out_len);

/* RFC 5761 4: with rtcp-mux, a packet whose second byte (marker bit
 * included) is 192..223 is RTCP (payload types 64..95 are not used by RTP). */
bool mc_srtp_is_rtcp(const uint8_t *buf, size_t len);

#endif
