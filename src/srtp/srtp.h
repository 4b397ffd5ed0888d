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
 * GCM) plus the SRTCP index (4); callers leave this much room. */
#define MC_SRTP_MAX_OVERHEAD 148 /* libsrtp's SRTP_MAX_TRAILER_LEN */

typedef struct mc_srtp mc_srtp;

/* keys->we_are_client picks which key is ours. The keys are copied; the
 * caller may clear its copy after this returns. */
int mc_srtp_new(const struct mc_dtls_srtp_keys *keys, mc_srtp **out);
void mc_srtp_free(mc_srtp *s);

/* buf holds len bytes of RTP (RTCP) and has room for cap bytes; on success
 * *out_len is the protected length. MC_ETOOBIG when cap is short. */
int mc_srtp_protect_rtp(mc_srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len);
int mc_srtp_protect_rtcp(mc_srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len);
/* MC_EAUTH when authentication fails or the packet is a replay, MC_EPARSE
 * when it is too short to be SRTP; the packet is then to be dropped. */
int mc_srtp_unprotect_rtp(mc_srtp *s, uint8_t *buf, size_t len, size_t *out_len);
int mc_srtp_unprotect_rtcp(mc_srtp *s, uint8_t *buf, size_t len, size_t *out_len);

/* RFC 5761 4: with rtcp-mux, a packet whose second byte (marker bit
 * included) is 192..223 is RTCP (payload types 64..95 are not used by RTP). */
bool mc_srtp_is_rtcp(const uint8_t *buf, size_t len);

#endif
