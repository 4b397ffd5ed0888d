/* sctp: SCTP over DTLS (RFC 8261) with usrsctp in AF_CONN mode, and WebRTC
 * data channels on it (RFC 8831) opened with DCEP (RFC 8832).
 *
 * usrsctp runs with no threads of its own (usrsctp_init_nothreads): every
 * callback below runs inside an mc_sctp_* call on the caller's thread, and
 * the caller drives SCTP's timers by calling mc_sctp_handle_timers about
 * every MC_SCTP_TICK_MS. Packets go down through the send callback (into
 * DTLS) and come up through mc_sctp_receive (from DTLS). Channels are named
 * by their SCTP stream id.
 *
 *   mc_sctp_new(&config, &cbs, user, &s);  mc_sctp_start(s);  (both peers)
 *   on_connected -> mc_sctp_open_channel(s, &init, &id) -> on_channel_open(id)
 *   mc_sctp_send(s, id, bytes, len, binary) ... on_message(id, ...)
 *   mc_sctp_close_channel(s, id) -> on_channel_closed(id) on both sides
 *   mc_sctp_free(s)
 *
 * The event callbacks (all but send) run only inside mc_sctp_receive and
 * mc_sctp_handle_timers, and may call any mc_sctp_* function, mc_sctp_free
 * included. The send callback may run inside any mc_sctp_* call, also
 * mc_sctp_free (the ABORT): free SCTP before the DTLS it sends into.
 * Packets handed to send are at most 1200 bytes. */
#ifndef MC_SCTP_H
#define MC_SCTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

#define MC_SCTP_TICK_MS 10
#define MC_SCTP_DEFAULT_PORT 5000                  /* RFC 8841 5: a=sctp-port default */
#define MC_SCTP_DEFAULT_REMOTE_MAX_MESSAGE 65536   /* RFC 8841 6.1: no a=max-message-size */
#define MC_SCTP_LOCAL_MAX_MESSAGE (256 * 1024)     /* what we announce and accept */
#define MC_SCTP_MAX_CHANNELS 1024
#define MC_SCTP_LABEL_MAX 256

enum mc_sctp_state {
  MC_SCTP_STATE_NEW = 0,
  MC_SCTP_STATE_CONNECTING,
  MC_SCTP_STATE_CONNECTED,
  MC_SCTP_STATE_CLOSED,
};

struct mc_sctp_config {
  uint16_t local_port;  /* 0: MC_SCTP_DEFAULT_PORT */
  uint16_t remote_port; /* 0: MC_SCTP_DEFAULT_PORT */
  /* RFC 8832 6: the DTLS client opens even stream ids, the server odd. */
  bool is_dtls_client;
  /* The peer's a=max-message-size; 0 means "no limit" (RFC 8841 6);
   * use MC_SCTP_DEFAULT_REMOTE_MAX_MESSAGE when the SDP had none. */
  uint64_t remote_max_message_size;
};

struct mc_dc_init {
  const char *label;    /* NULL: "" */
  const char *protocol; /* NULL: "" */
  bool ordered;
  int max_retransmits;      /* -1: unset (reliable unless lifetime set) */
  int max_packet_lifetime;  /* ms, -1: unset; at most one of the two is set */
  bool negotiated;          /* pre-negotiated: no DCEP, both sides open id */
  int id;                   /* -1: pick the next free one of our parity; required when negotiated */
};

struct mc_sctp_callbacks {
  /* One SCTP packet for DTLS to send. */
  void (*send)(const uint8_t *data, size_t len, void *user);
  void (*on_state)(enum mc_sctp_state state, void *user);
  /* A channel is open: ours after DCEP ACK (or at the next receive/timers
   * call when negotiated),
   * the peer's when its DCEP OPEN arrived (we ack it first). */
  void (*on_channel_open)(uint16_t id, const char *label, const char *protocol, bool remote, void *user);
  /* One whole message (partial deliveries are reassembled). */
  void (*on_message)(uint16_t id, const uint8_t *data, size_t len, bool binary, void *user);
  /* buffered amount fell to or below the channel's low threshold. */
  void (*on_buffered_amount_low)(uint16_t id, void *user);
  /* The channel's streams were reset (either side closed it). */
  void (*on_channel_closed)(uint16_t id, void *user);
};

typedef struct mc_sctp mc_sctp;

int mc_sctp_new(const struct mc_sctp_config *config, const struct mc_sctp_callbacks *cbs, void *user,
                mc_sctp **out);
/* Starts the association (INIT); call once DTLS is connected. A packet
 * received before it starts the association too. */
int mc_sctp_start(mc_sctp *s);
/* One SCTP packet that came out of DTLS. Garbage is dropped by usrsctp's
 * checks (CRC32c, verification tag). */
void mc_sctp_receive(mc_sctp *s, const uint8_t *data, size_t len);
/* Drives usrsctp's timers for every association: elapsed_ms since the last
 * call. Process-wide: call it once per tick, not once per instance. */
void mc_sctp_handle_timers(uint32_t elapsed_ms);
enum mc_sctp_state mc_sctp_state(const mc_sctp *s);

/* Opens a channel; *id_out gets its stream id. MC_ESTATE before connected
 * (channels are opened once the association is up), MC_EINVAL for a taken id
 * or a bad combination. */
int mc_sctp_open_channel(mc_sctp *s, const struct mc_dc_init *init, uint16_t *id_out);
/* Queues one message: PPID string/binary (and their _EMPTY forms for len 0,
 * RFC 8831 6.6). Never blocks: what SCTP cannot take now stays in the
 * channel's buffer (mc_sctp_buffered_amount) and goes when there is room.
 * MC_ETOOBIG when len exceeds the peer's max-message-size (or 2 MiB, the
 * most usrsctp's send buffer takes), MC_ESTATE when the channel is not open
 * or closing. Allowed while our DCEP OPEN waits for its ACK. */
int mc_sctp_send(mc_sctp *s, uint16_t id, const uint8_t *data, size_t len, bool binary);
size_t mc_sctp_buffered_amount(const mc_sctp *s, uint16_t id);
int mc_sctp_set_buffered_amount_low_threshold(mc_sctp *s, uint16_t id, size_t threshold);
/* Closes a channel (outgoing stream reset, RFC 8831 6.7) after its buffered
 * messages went out. */
int mc_sctp_close_channel(mc_sctp *s, uint16_t id);
/* Aborts the association (no callbacks after this) and frees. */
void mc_sctp_free(mc_sctp *s);

/* ---- DCEP (RFC 8832 5) codec, exposed for the fuzz target ---- */
enum mc_dcep_type { MC_DCEP_ACK = 0x02, MC_DCEP_OPEN = 0x03 };
enum mc_dcep_channel_type {
  MC_DCEP_RELIABLE = 0x00,
  MC_DCEP_RELIABLE_UNORDERED = 0x80,
  MC_DCEP_PARTIAL_RELIABLE_REXMIT = 0x01,
  MC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED = 0x81,
  MC_DCEP_PARTIAL_RELIABLE_TIMED = 0x02,
  MC_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED = 0x82,
};
struct mc_dcep_open {
  uint8_t channel_type;
  uint16_t priority;
  uint32_t reliability;
  char label[MC_SCTP_LABEL_MAX + 1];    /* NUL-terminated */
  char protocol[MC_SCTP_LABEL_MAX + 1];
};
/* MC_EPARSE for a short message, lengths beyond the buffer, or a label or
 * protocol longer than MC_SCTP_LABEL_MAX. */
int mc_dcep_parse_open(const uint8_t *buf, size_t len, struct mc_dcep_open *out);
int mc_dcep_write_open(const struct mc_dcep_open *open, uint8_t *buf, size_t cap, size_t *out_len);

#endif
