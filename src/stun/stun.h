/* stun: the STUN message codec (RFC 8489, RFC 5389), message integrity and
 * fingerprint, credentials, TURN framing helpers (ChannelData, RFC 8656 12)
 * and client transactions with RFC 8489 retransmission timing.
 * Pure functions over buffers plus a transaction table driven by the caller's
 * clock: no sockets here, so every piece is unit-testable. */
#ifndef MC_STUN_H
#define MC_STUN_H

#include "net/net.h"
#include "util/util.h"

#define MC_STUN_MAGIC_COOKIE 0x2112A442u
#define MC_STUN_HEADER_LEN 20
#define MC_STUN_TXID_LEN 12
#define MC_STUN_MAX_MESSAGE 1500 /* what we build; we parse any length the buffer really has */

enum mc_stun_class {
  MC_STUN_REQUEST = 0,
  MC_STUN_INDICATION = 1,
  MC_STUN_SUCCESS = 2,
  MC_STUN_ERROR = 3,
};

enum mc_stun_method {
  MC_STUN_BINDING = 0x001,
  MC_STUN_ALLOCATE = 0x003,
  MC_STUN_REFRESH = 0x004,
  MC_STUN_SEND = 0x006,
  MC_STUN_DATA = 0x007,
  MC_STUN_CREATE_PERMISSION = 0x008,
  MC_STUN_CHANNEL_BIND = 0x009,
};

enum mc_stun_attr_type {
  MC_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
  MC_STUN_ATTR_USERNAME = 0x0006,
  MC_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
  MC_STUN_ATTR_ERROR_CODE = 0x0009,
  MC_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  MC_STUN_ATTR_CHANNEL_NUMBER = 0x000C,
  MC_STUN_ATTR_LIFETIME = 0x000D,
  MC_STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
  MC_STUN_ATTR_DATA = 0x0013,
  MC_STUN_ATTR_REALM = 0x0014,
  MC_STUN_ATTR_NONCE = 0x0015,
  MC_STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
  MC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
  MC_STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
  MC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  MC_STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
  MC_STUN_ATTR_USERHASH = 0x001E,
  MC_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  MC_STUN_ATTR_PRIORITY = 0x0024,
  MC_STUN_ATTR_USE_CANDIDATE = 0x0025,
  MC_STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
  MC_STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
  MC_STUN_ATTR_SOFTWARE = 0x8022,
  MC_STUN_ATTR_ALTERNATE_SERVER = 0x8023,
  MC_STUN_ATTR_FINGERPRINT = 0x8028,
  MC_STUN_ATTR_ICE_CONTROLLED = 0x8029,
  MC_STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

#define MC_STUN_MAX_UNKNOWN 8
#define MC_STUN_MAX_STRING 764 /* USERNAME / REALM / NONCE / SOFTWARE byte limit per RFC 8489 */

/* A parsed message. Strings are NUL-terminated copies; `data` points into
 * the parsed buffer and lives only as long as it. */
typedef struct mc_stun_msg {
  uint16_t method;
  uint8_t cls; /* enum mc_stun_class */
  uint8_t txid[MC_STUN_TXID_LEN];
  bool has_cookie; /* false: an RFC 3489 message */
  size_t length;   /* total message length in bytes, header included */

  bool has_mapped, has_xor_mapped, has_xor_peer, has_xor_relayed, has_alternate;
  mc_addr mapped, xor_mapped, xor_peer, xor_relayed, alternate;

  bool has_username, has_realm, has_nonce, has_software;
  char username[MC_STUN_MAX_STRING + 1];
  char realm[MC_STUN_MAX_STRING + 1];
  char nonce[MC_STUN_MAX_STRING + 1];
  char software[MC_STUN_MAX_STRING + 1];

  bool has_error;
  uint16_t error_code; /* 300..699 */
  char error_reason[MC_STUN_MAX_STRING + 1];

  size_t unknown_count; /* UNKNOWN-ATTRIBUTES (in a 420) */
  uint16_t unknown[MC_STUN_MAX_UNKNOWN];
  /* comprehension-required attributes this parser did not know */
  size_t unknown_required_count;
  uint16_t unknown_required[MC_STUN_MAX_UNKNOWN];

  bool has_priority, has_use_candidate, has_ice_controlling, has_ice_controlled;
  uint32_t priority;
  uint64_t ice_tiebreaker;

  bool has_lifetime, has_channel_number, has_requested_transport, has_data;
  uint32_t lifetime;
  uint16_t channel_number;
  uint8_t requested_transport; /* 17 = UDP */
  const uint8_t *data;
  size_t data_len;

  /* Offsets from the start of the message; 0 = absent. Needed to check
   * integrity over the bytes exactly as received. */
  size_t integrity_offset, integrity_sha256_offset, fingerprint_offset;
  bool fingerprint_ok; /* present and CRC matched */
} mc_stun_msg;

/* True when buf looks like a STUN message (RFC 7983: first byte 0..3, magic
 * cookie present, length a multiple of 4 that fits). Cheap; used by demux. */
bool mc_stun_is_message(const uint8_t *buf, size_t len);

/* Parses buf; never trusts a length field. MC_EPARSE on malformed input.
 * A FINGERPRINT that is present but wrong is MC_EPARSE too. */
int mc_stun_parse(const uint8_t *buf, size_t len, mc_stun_msg *out);

/* ---- credentials (RFC 8489 9) ---- */
/* Short-term: key = the password bytes as given (after OpaqueString, which
 * for ASCII is identity). */
/* Long-term: key = MD5(username ":" realm ":" password). out: 16 bytes. */
int mc_stun_long_term_key(const char *username, const char *realm, const char *password, uint8_t out[16]);
/* SHA-256 variant for MESSAGE-INTEGRITY-SHA256 with PASSWORD-ALGORITHM SHA-256. out: 32 bytes. */
int mc_stun_long_term_key_sha256(const char *username, const char *realm, const char *password, uint8_t out[32]);

/* Verifies MESSAGE-INTEGRITY (HMAC-SHA1) or, when present, MESSAGE-INTEGRITY-SHA256
 * of a message parsed from buf. MC_ENOTFOUND when neither is present,
 * MC_EAUTH when it does not match. */
int mc_stun_check_integrity(const uint8_t *buf, size_t len, const mc_stun_msg *msg, const uint8_t *key,
                            size_t key_len);

/* ---- building ---- */
typedef struct mc_stun_writer {
  uint8_t *buf;
  size_t cap;
  size_t len;
  int err; /* sticky: the first failure; checked by mc_stun_finish */
} mc_stun_writer;

/* Writes the header. txid NULL: a fresh random one (read it back from buf+8). */
void mc_stun_begin(mc_stun_writer *w, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                   const uint8_t *txid);
void mc_stun_put_attr(mc_stun_writer *w, uint16_t type, const void *value, size_t len); /* pads to 4 */
void mc_stun_put_u32(mc_stun_writer *w, uint16_t type, uint32_t v);
void mc_stun_put_u64(mc_stun_writer *w, uint16_t type, uint64_t v);
void mc_stun_put_string(mc_stun_writer *w, uint16_t type, const char *s);
void mc_stun_put_flag(mc_stun_writer *w, uint16_t type); /* zero-length, e.g. USE-CANDIDATE */
/* XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS: type picks which. */
void mc_stun_put_xor_addr(mc_stun_writer *w, uint16_t type, const mc_addr *a);
void mc_stun_put_addr(mc_stun_writer *w, uint16_t type, const mc_addr *a); /* MAPPED-ADDRESS */
void mc_stun_put_error(mc_stun_writer *w, uint16_t code, const char *reason);
void mc_stun_put_unknown(mc_stun_writer *w, const uint16_t *types, size_t count);
void mc_stun_put_requested_transport(mc_stun_writer *w, uint8_t protocol);
void mc_stun_put_channel_number(mc_stun_writer *w, uint16_t channel);
/* MESSAGE-INTEGRITY (HMAC-SHA1, 20-byte key for long-term: 16-byte MD5). */
void mc_stun_put_integrity(mc_stun_writer *w, const uint8_t *key, size_t key_len);
void mc_stun_put_integrity_sha256(mc_stun_writer *w, const uint8_t *key, size_t key_len);
void mc_stun_put_fingerprint(mc_stun_writer *w);
/* Returns the message length, or the writer's error (MC_ETOOBIG...). */
int mc_stun_finish(mc_stun_writer *w);

/* ---- TURN ChannelData framing (RFC 8656 12.4) ---- */
#define MC_TURN_CHANNEL_MIN 0x4000
#define MC_TURN_CHANNEL_MAX 0x4FFF
/* Over UDP the frame is 4 + len bytes; over TCP/TLS it is padded to 4.
 * Returns the frame length written, MC_EINVAL for a channel outside
 * 0x4000-0x4FFF, MC_ETOOBIG when cap is too small. data may overlap buf. */
int mc_channeldata_write(uint8_t *buf, size_t cap, uint16_t channel, const uint8_t *data, size_t len,
                         bool pad);
/* Parses one ChannelData message at the start of buf: 0, or MC_EPARSE when
 * the channel is outside 0x4000-0x4FFF or buf is shorter than the length
 * field claims. Bytes after the frame (padding, the next frame) are ignored. */
int mc_channeldata_parse(const uint8_t *buf, size_t len, uint16_t *channel, const uint8_t **data,
                         size_t *data_len);

/* Stream framing for STUN over TCP/TLS (RFC 8489 6.2.2, RFC 8656 12.5):
 * given the first bytes of a stream buffer, how long is the next frame?
 * Returns the frame length (STUN: 20 + length; ChannelData: 4 + length
 * padded to 4), 0 when more bytes are needed to tell, MC_EPARSE when the
 * bytes are neither. */
int mc_stun_stream_frame_len(const uint8_t *buf, size_t len);

/* ---- client transactions (RFC 8489 6.2.1) ----
 * Over UDP: the request is sent at 0, RTO, 3 RTO, 7 RTO... Rc = 7 sends,
 * then it fails Rm * RTO after the last send. Over TCP/TLS: sent once,
 * fails after Ti = 39.5 s. The table owns copies of requests and tells its
 * owner when to send (again) and when a transaction is over. */
#define MC_STUN_RTO_MS 500
#define MC_STUN_RC 7
#define MC_STUN_RM 16
#define MC_STUN_TI_MS 39500

typedef struct mc_stun_txn_table mc_stun_txn_table;

struct mc_stun_txn_callbacks {
  /* (Re)send these bytes now. */
  void (*send)(void *txn_user, const uint8_t *msg, size_t len, void *table_user);
  /* Final: a response whose txid matched (msg parsed from buf), or
   * err = MC_ETIMEDOUT with msg NULL. The transaction is gone afterwards. */
  void (*done)(void *txn_user, int err, const mc_stun_msg *msg, const uint8_t *buf, size_t len,
               void *table_user);
};

mc_stun_txn_table *mc_stun_txn_table_new(const struct mc_stun_txn_callbacks *cbs, void *table_user);
void mc_stun_txn_table_free(mc_stun_txn_table *t); /* no callbacks for pending ones */
/* Starts a transaction for request msg (copied), sends it through cbs->send
 * immediately. rto_ms 0 means MC_STUN_RTO_MS; reliable = TCP/TLS timing. */
int mc_stun_txn_start(mc_stun_txn_table *t, const uint8_t *msg, size_t len, uint32_t rto_ms, bool reliable,
                      void *txn_user, uint64_t now_ms);
/* Offers an incoming response; returns true when it matched a transaction
 * (done was called). */
bool mc_stun_txn_handle_response(mc_stun_txn_table *t, const mc_stun_msg *msg, const uint8_t *buf, size_t len);
/* Drops every transaction of txn_user without calling done. */
void mc_stun_txn_cancel_user(mc_stun_txn_table *t, void *txn_user);
/* Runs retransmissions and timeouts due by now_ms. */
void mc_stun_txn_tick(mc_stun_txn_table *t, uint64_t now_ms);
/* When tick next needs to run (UINT64_MAX: nothing pending). */
uint64_t mc_stun_txn_next_deadline(const mc_stun_txn_table *t);
/* How many transactions are pending. */
size_t mc_stun_txn_count(const mc_stun_txn_table *t);

#endif
