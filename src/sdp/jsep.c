/* JSEP (RFC 9429) offer/answer for one peer connection: see sdp.h for the
 * contract. Transceivers keep stable indices (mc_jsep_media_at); the m-line
 * order is a separate list of indices, so a transceiver added before the
 * peer's offer can be matched to one of its m-lines (RFC 9429 5.10) without
 * renumbering. */
#include "sdp/sdp.h"
#include "sdp/sdp_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sctp/sctp.h"
#include "util/util.h"

#define COMP "jsep"

#define MAX_ENTRIES (2 * MC_SDP_MAX_MEDIA) /* m-lines plus transceivers displaced by recycled m-lines */

/* Our codecs and extension ids: the numbers Chromium uses, so that a
 * Chromium answer to our offer needs no remapping. */
#define OUR_OPUS_PT 111
#define OUR_VP8_PT 96
#define OUR_RTX_PT 97
#define OUR_OPUS_FMTP "minptime=10;useinbandfec=1"
#define OUR_SCTP_PORT MC_SCTP_DEFAULT_PORT
#define OUR_MAX_MESSAGE_SIZE MC_SCTP_LOCAL_MAX_MESSAGE
/* RFC 8841 5.1: "No default value is defined for the SDP 'sctp-port'
 * attribute. Therefore, if the attribute is not present, the associated
 * 'm=' line MUST be considered invalid." We take 5000 instead, the port
 * every browser uses and the one Chromium assumes for a missing
 * a=sctp-port: refusing the m-line would only cost the call its data. */
#define ABSENT_SCTP_PORT 5000
/* The older form's a=sctpmap value is a stream count to some senders
 * (Chromium wrote 1024) and a maximum message size to others: what we write
 * there fits a 16-bit stream count, and we never read it as a size. */
#define OUR_SCTPMAP_VALUE 65535
#define DATACHANNEL_APP "webrtc-datachannel"

enum { EXT_ABS = 0, EXT_TWCC, EXT_MID, EXT_COUNT };
static const char *const ext_uris[EXT_COUNT] = {MC_JSEP_EXT_ABS_SEND_TIME, MC_JSEP_EXT_TWCC, MC_JSEP_EXT_MID};
static const int ext_default_ids[EXT_COUNT] = {2, 3, 4};

/* RFC 4585 4.2 feedback values, in the order Chromium lists them. */
enum { FB_REMB = 1, FB_TWCC = 2, FB_FIR = 4, FB_NACK = 8, FB_PLI = 16 };
static const char *const fb_names[] = {"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"};

struct entry {
  mc_jsep_media pub;
  int mline;           /* position in the m-line order, -1 while not associated */
  /* the m= line as first seen, echoed when the m-line is kept rejected */
  char media[16], proto[32], fmt0[32];
  int fmt0_pt;
  /* what the last complete exchange said, for negotiation-needed
   * (W3C webrtc-pc 4.7.3 "check if negotiation is needed") */
  bool snap;
  enum mc_sdp_dir snap_local_dir; /* direction in our description */
  enum mc_sdp_dir snap_offer_rev; /* the offer's direction reversed; SENDRECV when we offered */
  char snap_msid[160];
  uint32_t snap_ssrc;
};

struct mc_jsep {
  char ufrag[257], pwd[257];
  char next_ufrag[257], next_pwd[257];
  bool restart_pending; /* next_ufrag/pwd wait for an exchange */
  uint8_t fp[32];
  char cname[128];
  uint64_t sess_id, sess_version;
  enum mc_jsep_state state;
  int entry_count;
  struct entry entries[MAX_ENTRIES];
  int mline_count;
  int mline[MC_SDP_MAX_MEDIA];
  int ext_ids[EXT_COUNT]; /* the ids the session settled on, for new m-lines */
  bool ext_learned[EXT_COUNT]; /* ext_ids[k] came from a negotiation */
  mc_sdp *pending;        /* the offer in flight, ours or the peer's */
  bool has_transport;
  struct mc_jsep_transport transport;
  bool has_role, role_client; /* the DTLS role of the last exchange */
  bool remb_only;
};

const char *mc_media_kind_name(enum mc_media_kind k) {
  switch (k) {
  case MC_MEDIA_AUDIO: return "audio";
  case MC_MEDIA_VIDEO: return "video";
  case MC_MEDIA_DATA: return "application";
  }
  return "unknown";
}

const char *mc_sdp_type_name(enum mc_sdp_type t) { return t == MC_SDP_ANSWER ? "answer" : "offer"; }

const char *mc_jsep_state_name(enum mc_jsep_state s) {
  switch (s) {
  case MC_JSEP_STABLE: return "stable";
  case MC_JSEP_HAVE_LOCAL_OFFER: return "have-local-offer";
  case MC_JSEP_HAVE_REMOTE_OFFER: return "have-remote-offer";
  }
  return "unknown";
}

/* ---- small helpers ---- */

static int refuse(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t cap, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (why && cap) snprintf(why, cap, "%s", buf);
  MC_LOGD(COMP, "remote description refused: %s", buf); /* the caller reports it */
  return MC_EINVAL;
}

static bool dir_sends(enum mc_sdp_dir d) { return d == MC_SDP_DIR_SENDRECV || d == MC_SDP_DIR_SENDONLY; }
static bool dir_recvs(enum mc_sdp_dir d) { return d == MC_SDP_DIR_SENDRECV || d == MC_SDP_DIR_RECVONLY; }
static enum mc_sdp_dir dir_make(bool send, bool recv) {
  return send ? (recv ? MC_SDP_DIR_SENDRECV : MC_SDP_DIR_SENDONLY) : (recv ? MC_SDP_DIR_RECVONLY : MC_SDP_DIR_INACTIVE);
}
static enum mc_sdp_dir dir_reverse(enum mc_sdp_dir d) { return dir_make(dir_recvs(d), dir_sends(d)); }
static enum mc_sdp_dir dir_and(enum mc_sdp_dir a, enum mc_sdp_dir b) {
  return dir_make(dir_sends(a) && dir_sends(b), dir_recvs(a) && dir_recvs(b));
}

/* RFC 8866 6.7: media-level direction, else session-level, else sendrecv. */
static enum mc_sdp_dir media_dir(const mc_sdp *s, const mc_sdp_media *m) {
  if (m->dir != MC_SDP_DIR_NONE) return m->dir;
  if (s->dir != MC_SDP_DIR_NONE) return s->dir;
  return MC_SDP_DIR_SENDRECV;
}

/* RFC 8866 9 token-char: mids and msid ids must be tokens so that the
 * a=group and a=msid lines that carry them split back the same way. */
static bool is_token(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c)) return false;
  }
  return true;
}

static enum mc_sdp_dir entry_desire(const struct entry *e) {
  return e->pub.has_track ? MC_SDP_DIR_SENDRECV : MC_SDP_DIR_RECVONLY;
}

/* The ICE/DTLS attributes of an m-line: media level, else session level. */
struct eff_transport {
  const char *ufrag, *pwd;
  const mc_sdp_transport *fp; /* NULL when neither level has a fingerprint */
  enum mc_sdp_setup setup;
};

static struct eff_transport eff_transport(const mc_sdp *s, const mc_sdp_media *m) {
  struct eff_transport t;
  t.ufrag = m->transport.ice_ufrag[0] ? m->transport.ice_ufrag : s->transport.ice_ufrag;
  t.pwd = m->transport.ice_pwd[0] ? m->transport.ice_pwd : s->transport.ice_pwd;
  t.fp = m->transport.has_fingerprint ? &m->transport : s->transport.has_fingerprint ? &s->transport : NULL;
  t.setup = m->transport.setup != MC_SDP_SETUP_NONE ? m->transport.setup : s->transport.setup;
  return t;
}

static const mc_sdp_group *bundle_group(const mc_sdp *s) {
  for (int i = 0; i < s->group_count; i++)
    if (strcmp(s->groups[i].semantics, "BUNDLE") == 0) return &s->groups[i];
  return NULL;
}

static bool in_group(const mc_sdp_group *g, const char *mid) {
  if (!g) return false;
  for (int i = 0; i < g->count; i++)
    if (strcmp(g->mids[i], mid) == 0) return true;
  return false;
}

/* Whether the offerer rejected an m-line. RFC 9143 7.3.5: an RFC 8843
 * offerer (and JSEP's max-bundle policy) marks every bundled m-line but the
 * tagged one with port 0 and a=bundle-only; "the way an answerer ...
 * processes such offer is considered an implementation issue". Taking them
 * as rejected would answer port 0 for m-lines the offerer wants: inside the
 * BUNDLE group they are bundled, not rejected. */
static bool offer_rejects(const mc_sdp *offer, const mc_sdp_media *m) {
  return m->port == 0 && !(m->bundle_only && in_group(bundle_group(offer), m->mid));
}

static int media_index(const mc_sdp *s, const char *mid) {
  for (int i = 0; i < s->media_count; i++)
    if (strcmp(s->media[i].mid, mid) == 0) return i;
  return -1;
}

/* RFC 9143 7.2.1: the offerer tag is the first mid of the BUNDLE group; its
 * m-line carries the bundled transport. Without BUNDLE, the first accepted
 * m-line does. -1 when every m-line is rejected. */
static int tag_index(const mc_sdp *s) {
  const mc_sdp_group *g = bundle_group(s);
  if (g)
    for (int i = 0; i < g->count; i++) {
      int k = media_index(s, g->mids[i]);
      if (k >= 0 && s->media[k].port != 0) return k;
    }
  for (int i = 0; i < s->media_count; i++)
    if (s->media[i].port != 0) return i;
  return -1;
}

static enum mc_media_kind kind_of(const mc_sdp_media *m) {
  if (strcmp(m->media, "audio") == 0) return MC_MEDIA_AUDIO;
  if (strcmp(m->media, "video") == 0) return MC_MEDIA_VIDEO;
  return MC_MEDIA_DATA;
}

/* Reads an integer parameter from an fmtp value ("a=1;b=2"). */
static bool fmtp_int(const mc_sdp_payload *p, const char *name, long *out) {
  if (!p->has_fmtp) return false;
  size_t nl = strlen(name);
  const char *s = p->fmtp;
  while (*s) {
    while (*s == ' ' || *s == ';') s++;
    if (strncasecmp(s, name, nl) == 0 && s[nl] == '=') {
      char *end;
      long v = strtol(s + nl + 1, &end, 10);
      if (end == s + nl + 1 || (*end && *end != ';' && *end != ' ')) return false;
      *out = v;
      return true;
    }
    while (*s && *s != ';') s++;
  }
  return false;
}

static bool is_codec(const mc_sdp_payload *p, enum mc_media_kind k) {
  if (!p->has_rtpmap || p->pt < 0) return false;
  if (k == MC_MEDIA_AUDIO) return strcasecmp(p->encoding, "opus") == 0 && p->clock_rate == 48000 && p->channels == 2;
  if (k == MC_MEDIA_VIDEO) return strcasecmp(p->encoding, "VP8") == 0 && p->clock_rate == 90000;
  return false;
}

/* The first payload (in the m= line's order of preference) we can use. */
static const mc_sdp_payload *find_codec(const mc_sdp_media *m, enum mc_media_kind k) {
  for (int i = 0; i < m->fmt_count; i++)
    if (is_codec(&m->fmts[i], k) && mc_sdp_payload_find(m, m->fmts[i].pt) == &m->fmts[i]) return &m->fmts[i];
  return NULL;
}

/* RFC 4588 8.6: the rtx payload whose apt is pt. */
static const mc_sdp_payload *find_rtx(const mc_sdp_media *m, int pt) {
  for (int i = 0; i < m->fmt_count; i++) {
    const mc_sdp_payload *p = &m->fmts[i];
    long apt;
    if (p->pt >= 0 && p->has_rtpmap && strcasecmp(p->encoding, "rtx") == 0 && p->clock_rate == 90000 &&
        fmtp_int(p, "apt", &apt) && apt == pt && mc_sdp_payload_find(m, p->pt) == p)
      return p;
  }
  return NULL;
}

static unsigned fb_bit(const char *v) {
  for (size_t i = 0; i < MC_ARRAY_LEN(fb_names); i++)
    if (strcmp(v, fb_names[i]) == 0) return 1u << i;
  return 0;
}

/* Feedback for one payload: its own rtcp-fb lines plus rtcp-fb:* ones. */
static unsigned fb_of(const mc_sdp_media *m, const mc_sdp_payload *p) {
  unsigned bits = 0;
  for (int i = 0; i < p->rtcp_fb_count && i < MC_SDP_MAX_RTCP_FB; i++) bits |= fb_bit(p->rtcp_fb[i]);
  for (int i = 0; i < m->rtcp_fb_all_count && i < MC_SDP_MAX_RTCP_FB; i++) bits |= fb_bit(m->rtcp_fb_all[i]);
  return bits;
}

/* Audio NACK would need an audio retransmission history: only TWCC. */
static unsigned fb_ours(const mc_jsep *j, enum mc_media_kind k) {
  unsigned fb = k == MC_MEDIA_VIDEO ? (FB_REMB | FB_TWCC | FB_FIR | FB_NACK | FB_PLI) : FB_TWCC;
  return j->remb_only ? fb & ~(unsigned)FB_TWCC : fb;
}

/* The extensions we use: transport-wide sequence numbers only with
 * transport-cc. */
static bool ext_ours(const mc_jsep *j, int k) { return k >= 0 && !(j->remb_only && k == EXT_TWCC); }

static int ext_index(const char *uri) {
  for (int i = 0; i < EXT_COUNT; i++)
    if (strcmp(uri, ext_uris[i]) == 0) return i;
  return -1;
}


/* RFC 8122 5 hash functions the DTLS layer verifies, with their lengths. */
static bool fingerprint_supported(const mc_sdp_transport *t) {
  static const struct { const char *name; size_t len; } algs[] = {
      {"sha-256", 32}, {"sha-1", 20}, {"sha-384", 48}, {"sha-512", 64}};
  for (size_t i = 0; i < MC_ARRAY_LEN(algs); i++)
    if (strcasecmp(t->fp_algorithm, algs[i].name) == 0) return t->fp_len == algs[i].len;
  return false;
}

/* ---- lifecycle and transceivers ---- */

static bool valid_ice_value(const char *s, size_t min, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

int mc_jsep_new(const struct mc_jsep_config *config, mc_jsep **out) {
  if (!config || !out) return MC_EINVAL;
  *out = NULL;
  /* RFC 8839 5.4: ufrag 4-256 and pwd 22-256 ice-chars */
  if (!config->ice_ufrag || !config->ice_pwd || !valid_ice_value(config->ice_ufrag, 4, 256) ||
      !valid_ice_value(config->ice_pwd, 22, 256) || !config->fingerprint || config->fingerprint_len != 32)
    return MC_EINVAL;
  if (config->cname && !is_token(config->cname, 127)) return MC_EINVAL;
  int rc = MC_ENOMEM;
  mc_jsep *j = calloc(1, sizeof *j);
  if (!j) goto fail;
  j->pending = calloc(1, sizeof *j->pending);
  if (!j->pending) goto fail;
  snprintf(j->ufrag, sizeof j->ufrag, "%s", config->ice_ufrag);
  snprintf(j->pwd, sizeof j->pwd, "%s", config->ice_pwd);
  memcpy(j->fp, config->fingerprint, 32);
  j->remb_only = config->remb_only;
  if (config->cname) {
    snprintf(j->cname, sizeof j->cname, "%s", config->cname);
  } else if ((rc = mc_random_ice_chars(j->cname, 16))) {
    goto fail;
  }
  /* RFC 8866 5.2: sess-id, a number that fits 63 bits as JSEP 5.2.1 asks */
  j->sess_id = mc_random_u64() >> 1;
  for (int i = 0; i < EXT_COUNT; i++) j->ext_ids[i] = ext_default_ids[i];
  *out = j;
  return 0;
fail:
  if (j) free(j->pending);
  free(j);
  return rc;
}

void mc_jsep_free(mc_jsep *j) {
  if (!j) return;
  free(j->pending);
  /* the struct holds our ICE password */
  memset(j, 0, sizeof *j);
  free(j);
}

int mc_jsep_set_ice_credentials(mc_jsep *j, const char *ufrag, const char *pwd) {
  if (!j || !ufrag || !pwd || !valid_ice_value(ufrag, 4, 256) || !valid_ice_value(pwd, 22, 256)) return MC_EINVAL;
  snprintf(j->next_ufrag, sizeof j->next_ufrag, "%s", ufrag);
  snprintf(j->next_pwd, sizeof j->next_pwd, "%s", pwd);
  j->restart_pending = true;
  return 0;
}

static int check_track(const struct mc_jsep_track *t, enum mc_media_kind kind) {
  if (!is_token(t->stream_id, MC_JSEP_ID_MAX) || !is_token(t->track_id, MC_JSEP_ID_MAX)) return MC_EINVAL;
  if (kind == MC_MEDIA_VIDEO && t->rtx_ssrc && t->rtx_ssrc == t->ssrc) return MC_EINVAL;
  return 0;
}

/* Copies the track, choosing random SSRCs (RFC 3550 8.1) for zero ones. */
static void put_track(struct entry *e, const struct mc_jsep_track *t) {
  e->pub.track = *t;
  while (!e->pub.track.ssrc) e->pub.track.ssrc = mc_random_u32();
  if (e->pub.kind == MC_MEDIA_VIDEO)
    while (!e->pub.track.rtx_ssrc || e->pub.track.rtx_ssrc == e->pub.track.ssrc)
      e->pub.track.rtx_ssrc = mc_random_u32();
  else
    e->pub.track.rtx_ssrc = 0;
  e->pub.has_track = true;
}

static struct entry *entry_new(mc_jsep *j, enum mc_media_kind kind) {
  if (j->entry_count >= MAX_ENTRIES) return NULL;
  struct entry *e = &j->entries[j->entry_count++];
  memset(e, 0, sizeof *e);
  e->mline = -1;
  e->pub.kind = kind;
  e->pub.pt = -1;
  e->pub.rtx_pt = -1;
  e->pub.dir = kind == MC_MEDIA_DATA ? MC_SDP_DIR_SENDRECV : MC_SDP_DIR_RECVONLY;
  e->pub.remote_max_message_size = MC_SCTP_DEFAULT_REMOTE_MAX_MESSAGE;
  snprintf(e->media, sizeof e->media, "%s", mc_media_kind_name(kind));
  if (kind == MC_MEDIA_DATA) {
    snprintf(e->proto, sizeof e->proto, "UDP/DTLS/SCTP");
    snprintf(e->fmt0, sizeof e->fmt0, "webrtc-datachannel");
    e->fmt0_pt = -1;
  } else {
    snprintf(e->proto, sizeof e->proto, "UDP/TLS/RTP/SAVPF");
    e->fmt0_pt = kind == MC_MEDIA_AUDIO ? OUR_OPUS_PT : OUR_VP8_PT;
    snprintf(e->fmt0, sizeof e->fmt0, "%d", e->fmt0_pt);
  }
  return e;
}

/* m-lines that exist or will exist in our next offer */
static int planned_mlines(const mc_jsep *j) {
  int n = j->mline_count;
  for (int i = 0; i < j->entry_count; i++)
    if (j->entries[i].mline < 0 && !j->entries[i].pub.rejected) n++;
  return n;
}

int mc_jsep_add_transceiver(mc_jsep *j, enum mc_media_kind kind, const struct mc_jsep_track *track, int *index_out) {
  if (!j || (kind != MC_MEDIA_AUDIO && kind != MC_MEDIA_VIDEO)) return MC_EINVAL;
  if (track && check_track(track, kind)) return MC_EINVAL;
  if (planned_mlines(j) >= MC_SDP_MAX_MEDIA) return MC_ETOOBIG;
  struct entry *e = entry_new(j, kind);
  if (!e) return MC_ETOOBIG;
  if (track) put_track(e, track);
  e->pub.dir = entry_desire(e);
  if (index_out) *index_out = (int)(e - j->entries);
  MC_LOGD(COMP, "transceiver added kind=%s index=%d track=%d", mc_media_kind_name(kind), (int)(e - j->entries),
          track != NULL);
  return 0;
}

int mc_jsep_set_track(mc_jsep *j, int index, const struct mc_jsep_track *track) {
  if (!j || index < 0 || index >= j->entry_count) return MC_EINVAL;
  struct entry *e = &j->entries[index];
  if (e->pub.kind == MC_MEDIA_DATA) return MC_EINVAL;
  if (track && check_track(track, e->pub.kind)) return MC_EINVAL;
  if (track) {
    put_track(e, track);
  } else {
    e->pub.has_track = false;
    memset(&e->pub.track, 0, sizeof e->pub.track);
  }
  if (!e->snap) e->pub.dir = entry_desire(e);
  return 0;
}

int mc_jsep_add_data(mc_jsep *j) {
  if (!j) return MC_EINVAL;
  for (int i = 0; i < j->entry_count; i++)
    if (j->entries[i].pub.kind == MC_MEDIA_DATA && !j->entries[i].pub.rejected &&
        (j->entries[i].mline < 0 || strcmp(j->entries[i].media, "application") == 0))
      return 0;
  if (planned_mlines(j) >= MC_SDP_MAX_MEDIA) return MC_ETOOBIG;
  return entry_new(j, MC_MEDIA_DATA) ? 0 : MC_ETOOBIG;
}

static void msid_text(const struct entry *e, char *out, size_t cap) {
  if (e->pub.has_track)
    snprintf(out, cap, "%s %s", e->pub.track.stream_id, e->pub.track.track_id);
  else if (cap)
    out[0] = '\0';
}

bool mc_jsep_negotiation_needed(const mc_jsep *j) {
  /* W3C webrtc-pc 4.7.3: only checked in stable; an exchange in progress
   * is checked again when it completes. */
  if (!j || j->state != MC_JSEP_STABLE) return false;
  if (j->restart_pending) return true;
  for (int i = 0; i < j->entry_count; i++) {
    const struct entry *e = &j->entries[i];
    if (e->pub.rejected) continue;
    if (e->mline < 0 || !e->snap) return true;
    if (e->pub.kind == MC_MEDIA_DATA) continue;
    enum mc_sdp_dir want = dir_and(entry_desire(e), e->snap_offer_rev);
    if (want != e->snap_local_dir) return true;
    if (dir_sends(want)) {
      char msid[160];
      msid_text(e, msid, sizeof msid);
      if (strcmp(msid, e->snap_msid) != 0 || e->pub.track.ssrc != e->snap_ssrc) return true;
    }
  }
  return false;
}

/* ---- building descriptions ---- */

static void session_init(mc_jsep *j, mc_sdp *s) {
  memset(s, 0, sizeof *s);
  /* RFC 9429 5.2.1: o=- <sess-id> <version> IN IP4 127.0.0.1, s=-, t=0 0 */
  j->sess_version++;
  snprintf(s->origin_user, sizeof s->origin_user, "-");
  snprintf(s->origin_sess_id, sizeof s->origin_sess_id, "%llu", (unsigned long long)j->sess_id);
  snprintf(s->origin_sess_version, sizeof s->origin_sess_version, "%llu", (unsigned long long)j->sess_version);
  snprintf(s->origin_nettype, sizeof s->origin_nettype, "IN");
  snprintf(s->origin_addrtype, sizeof s->origin_addrtype, "IP4");
  snprintf(s->origin_address, sizeof s->origin_address, "127.0.0.1");
  snprintf(s->session_name, sizeof s->session_name, "-");
  s->has_msid_semantic = true;
  snprintf(s->msid_semantic, sizeof s->msid_semantic, " WMS");
}

static void media_head(mc_sdp_media *m, const char *media, uint16_t port, const char *proto, const char *mid) {
  snprintf(m->media, sizeof m->media, "%s", media);
  m->port = port;
  snprintf(m->proto_text, sizeof m->proto_text, "%s", proto);
  m->proto = mc_sdp_proto_of(m->proto_text);
  /* RFC 8839 4.2.1.1 / JSEP 5.2.1: c=IN IP4 0.0.0.0 with the dummy port 9 */
  m->conn.present = true;
  snprintf(m->conn.nettype, sizeof m->conn.nettype, "IN");
  snprintf(m->conn.addrtype, sizeof m->conn.addrtype, "IP4");
  snprintf(m->conn.address, sizeof m->conn.address, "0.0.0.0");
  snprintf(m->mid, sizeof m->mid, "%s", mid);
}

/* A rejected m-line keeps its media, proto, one format and its mid, with
 * port 0. RFC 3264 6: "To reject an offered stream, the port number in the
 * corresponding stream in the answer MUST be set to zero. Any media formats
 * listed are ignored. AT LEAST ONE MUST BE PRESENT, AS SPECIFIED BY SDP."
 * RFC 9143 7.3.3: the answerer "MUST NOT place the identification-tag
 * associated with the 'm=' section in the SDP 'group:BUNDLE' attribute" and
 * "MUST NOT include an SDP 'bundle-only' attribute in the 'm=' section":
 * callers leave it out of the group, and bundle_only stays false here. */
static void media_rejected(mc_sdp_media *m, const char *media, const char *proto, const char *fmt, int pt,
                           const char *mid) {
  media_head(m, media, 0, proto, mid);
  m->fmt_count = 1;
  snprintf(m->fmts[0].fmt, sizeof m->fmts[0].fmt, "%s", fmt);
  m->fmts[0].pt = pt;
}

static void media_transport(const mc_jsep *j, mc_sdp_media *m, const char *ufrag, const char *pwd,
                            enum mc_sdp_setup setup) {
  mc_sdp_transport *t = &m->transport;
  snprintf(t->ice_ufrag, sizeof t->ice_ufrag, "%s", ufrag);
  snprintf(t->ice_pwd, sizeof t->ice_pwd, "%s", pwd);
  snprintf(t->ice_options, sizeof t->ice_options, "trickle");
  t->has_fingerprint = true;
  snprintf(t->fp_algorithm, sizeof t->fp_algorithm, "sha-256");
  memcpy(t->fp, j->fp, 32);
  t->fp_len = 32;
  t->setup = setup;
}

static mc_sdp_payload *add_payload(mc_sdp_media *m, int pt, const char *enc, uint32_t clock, uint32_t ch,
                                   const char *fmtp) {
  mc_sdp_payload *p = &m->fmts[m->fmt_count++];
  snprintf(p->fmt, sizeof p->fmt, "%d", pt);
  p->pt = pt;
  p->has_rtpmap = true;
  snprintf(p->encoding, sizeof p->encoding, "%s", enc);
  p->clock_rate = clock;
  p->channels = ch;
  if (fmtp) {
    p->has_fmtp = true;
    snprintf(p->fmtp, sizeof p->fmtp, "%s", fmtp);
  }
  return p;
}

static void add_fb(mc_sdp_payload *p, unsigned bits) {
  for (size_t i = 0; i < MC_ARRAY_LEN(fb_names); i++)
    if (bits & (1u << i)) snprintf(p->rtcp_fb[p->rtcp_fb_count++], sizeof p->rtcp_fb[0], "%s", fb_names[i]);
}

static void add_ext(mc_sdp_media *m, int id, enum mc_sdp_dir dir, const char *uri) {
  mc_sdp_extmap *x = &m->extmaps[m->extmap_count++];
  x->id = id;
  x->dir = dir;
  snprintf(x->uri, sizeof x->uri, "%s", uri);
}

/* RFC 8830 2 (a=msid) and RFC 5576 (a=ssrc, a=ssrc-group:FID for RTX,
 * RFC 4588 8.6). */
static void add_sending(const mc_jsep *j, const struct entry *e, mc_sdp_media *m, bool with_rtx) {
  char msid[160];
  msid_text(e, msid, sizeof msid);
  m->msid_count = 1;
  snprintf(m->msid[0], sizeof m->msid[0], "%s", msid);
  uint32_t ids[2] = {e->pub.track.ssrc, e->pub.track.rtx_ssrc};
  int n = (with_rtx && e->pub.kind == MC_MEDIA_VIDEO && ids[1]) ? 2 : 1;
  if (n == 2) {
    mc_sdp_ssrc_group *g = &m->ssrc_groups[m->ssrc_group_count++];
    snprintf(g->semantics, sizeof g->semantics, "FID");
    g->count = 2;
    g->ssrcs[0] = ids[0];
    g->ssrcs[1] = ids[1];
  }
  for (int i = 0; i < n; i++) {
    mc_sdp_ssrc *s = &m->ssrcs[m->ssrc_count++];
    s->ssrc = ids[i];
    snprintf(s->cname, sizeof s->cname, "%s", j->cname);
    snprintf(s->msid, sizeof s->msid, "%s", msid);
  }
}

/* Our SCTP endpoint in the form of m's proto (set by media_head). */
static void add_data(mc_sdp_media *m) {
  m->fmt_count = 1;
  m->fmts[0].pt = -1;
  if (m->proto == MC_SDP_PROTO_LEGACY_SCTP) {
    /* draft-ietf-mmusic-sctp-sdp-05: the format is our SCTP port, and
     * a=sctpmap names the application on it */
    snprintf(m->fmts[0].fmt, sizeof m->fmts[0].fmt, "%u", (unsigned)OUR_SCTP_PORT);
    m->has_sctpmap = true;
    m->sctpmap_port = OUR_SCTP_PORT;
    snprintf(m->sctpmap_app, sizeof m->sctpmap_app, "%s", DATACHANNEL_APP);
    m->has_sctpmap_value = true;
    m->sctpmap_value = OUR_SCTPMAP_VALUE;
    return;
  }
  snprintf(m->fmts[0].fmt, sizeof m->fmts[0].fmt, "%s", DATACHANNEL_APP);
  /* RFC 8841 5-6 */
  m->has_sctp_port = true;
  m->sctp_port = OUR_SCTP_PORT;
  m->has_max_message_size = true;
  m->max_message_size = OUR_MAX_MESSAGE_SIZE;
}

/* The SCTP port a data m-line announces, 0 when it names none we can use:
 * the DTLS/SCTP form's format (with its a=sctpmap saying which
 * application), else a=sctp-port. */
static uint16_t sctp_port_of(const mc_sdp_media *m) {
  if (m->proto == MC_SDP_PROTO_LEGACY_SCTP) {
    for (int f = 0; f < m->fmt_count; f++) {
      char *end;
      unsigned long port = strtoul(m->fmts[f].fmt, &end, 10);
      if (m->fmts[f].fmt[0] < '0' || m->fmts[f].fmt[0] > '9' || *end || port == 0 || port > 65535) continue;
      if (m->has_sctpmap && m->sctpmap_port == port && strcmp(m->sctpmap_app, DATACHANNEL_APP) == 0)
        return (uint16_t)port;
    }
    return 0;
  }
  if (!m->has_sctp_port) return ABSENT_SCTP_PORT;
  return m->sctp_port;
}

/* JSEP 5.1.2 (RFC 8829): "For data 'm=' sections, implementations MUST
 * support the 'UDP/DTLS/SCTP' profile as well as the 'TCP/DTLS/SCTP'
 * profile"; DTLS/SCTP is what older stacks still send. The answer keeps the
 * offer's proto, as 5.1.2 asks of media m-lines: "The profile in any 'm='
 * line in any generated answer MUST exactly match the profile provided in
 * the offer." NULL when m is a data channel m-line. */
static const char *not_datachannel(const mc_sdp_media *m) {
  if (!mc_sdp_proto_is_sctp(m->proto)) return "not UDP/DTLS/SCTP, TCP/DTLS/SCTP or DTLS/SCTP";
  if (m->proto == MC_SDP_PROTO_LEGACY_SCTP)
    return sctp_port_of(m) ? NULL : "DTLS/SCTP without an a=sctpmap for webrtc-datachannel on its port";
  for (int f = 0; f < m->fmt_count; f++)
    if (strcmp(m->fmts[f].fmt, DATACHANNEL_APP) == 0) return sctp_port_of(m) ? NULL : "a=sctp-port:0";
  return "not webrtc-datachannel";
}

static void offer_media(const mc_jsep *j, const struct entry *e, mc_sdp_media *m, const char *ufrag, const char *pwd) {
  if (e->pub.rejected) {
    media_rejected(m, e->media, e->proto, e->fmt0, e->fmt0_pt, e->pub.mid);
    return;
  }
  media_head(m, mc_media_kind_name(e->pub.kind), 9,
             e->pub.kind == MC_MEDIA_DATA ? "UDP/DTLS/SCTP" : "UDP/TLS/RTP/SAVPF", e->pub.mid);
  /* RFC 9429 5.2.1: actpass in every offer; the answer keeps the role */
  media_transport(j, m, ufrag, pwd, MC_SDP_SETUP_ACTPASS);
  if (e->pub.kind == MC_MEDIA_DATA) {
    add_data(m);
    return;
  }
  /* RFC 9429 5.2.2: a subsequent offer keeps the negotiated ids and pts */
  const int have[EXT_COUNT] = {e->pub.ext_abs_send_time, e->pub.ext_twcc, e->pub.ext_mid};
  for (int i = 0; i < EXT_COUNT; i++)
    if (ext_ours(j, i)) add_ext(m, have[i] > 0 && e->snap ? have[i] : j->ext_ids[i], MC_SDP_DIR_NONE, ext_uris[i]);
  m->dir = entry_desire(e);
  m->rtcp_mux = true;
  m->rtcp_rsize = true;
  int pt = e->pub.pt >= 0 && e->snap ? e->pub.pt : (e->pub.kind == MC_MEDIA_AUDIO ? OUR_OPUS_PT : OUR_VP8_PT);
  if (e->pub.kind == MC_MEDIA_AUDIO) {
    add_fb(add_payload(m, pt, "opus", 48000, 2, OUR_OPUS_FMTP), fb_ours(j, MC_MEDIA_AUDIO));
  } else {
    int rtx = e->pub.rtx_pt >= 0 && e->snap ? e->pub.rtx_pt : OUR_RTX_PT;
    if (rtx == pt) rtx = pt == OUR_RTX_PT ? OUR_VP8_PT : OUR_RTX_PT;
    char apt[16];
    snprintf(apt, sizeof apt, "apt=%d", pt);
    add_fb(add_payload(m, pt, "VP8", 90000, 0, NULL), fb_ours(j, MC_MEDIA_VIDEO));
    add_payload(m, rtx, "rtx", 90000, 0, apt);
  }
  if (e->pub.has_track) add_sending(j, e, m, true);
}

static bool mid_in_use(const mc_jsep *j, const char *mid) {
  for (int i = 0; i < j->entry_count; i++)
    if (strcmp(j->entries[i].pub.mid, mid) == 0) return true;
  return false;
}

int mc_jsep_create_offer(mc_jsep *j, mc_sdp *out) {
  if (!j || !out) return MC_EINVAL;
  if (j->state == MC_JSEP_HAVE_REMOTE_OFFER) return MC_ESTATE;
  int order[MC_SDP_MAX_MEDIA], n = 0;
  for (int i = 0; i < j->mline_count; i++) order[n++] = j->mline[i];
  for (int i = 0; i < j->entry_count; i++) {
    struct entry *e = &j->entries[i];
    if (e->mline >= 0 || e->pub.rejected) continue;
    if (n >= MC_SDP_MAX_MEDIA) return MC_ETOOBIG;
    /* RFC 9429 5.2.1: a mid of our choosing, unique in the session */
    if (!e->pub.mid[0])
      for (unsigned k = 0; k < 1000; k++) {
        char mid[16];
        snprintf(mid, sizeof mid, "%u", k);
        if (!mid_in_use(j, mid)) {
          snprintf(e->pub.mid, sizeof e->pub.mid, "%s", mid);
          break;
        }
      }
    order[n++] = i;
  }
  const char *ufrag = j->restart_pending ? j->next_ufrag : j->ufrag;
  const char *pwd = j->restart_pending ? j->next_pwd : j->pwd;
  session_init(j, out);
  mc_sdp_group *g = &out->groups[0];
  snprintf(g->semantics, sizeof g->semantics, "BUNDLE");
  for (int i = 0; i < n; i++) {
    const struct entry *e = &j->entries[order[i]];
    offer_media(j, e, &out->media[i], ufrag, pwd);
    if (!e->pub.rejected) snprintf(g->mids[g->count++], sizeof g->mids[0], "%s", e->pub.mid);
  }
  out->media_count = n;
  if (g->count) out->group_count = 1;
  else memset(g, 0, sizeof *g);
  MC_LOGD(COMP, "offer created mlines=%d version=%llu restart=%d", n, (unsigned long long)j->sess_version,
          j->restart_pending);
  return 0;
}

/* Why an offered m-line cannot be accepted on its own (RFC 9429 5.3.1),
 * NULL when it can. */
static const char *unusable_alone(const mc_sdp *offer, int i, int tag) {
  const mc_sdp_media *m = &offer->media[i];
  if (offer_rejects(offer, m)) return "rejected by the offerer";
  enum mc_media_kind k = kind_of(m);
  if (strcmp(m->media, "application") == 0) {
    const char *why = not_datachannel(m);
    if (why) return why;
  } else if (k == MC_MEDIA_AUDIO || k == MC_MEDIA_VIDEO) {
    if (m->proto != MC_SDP_PROTO_RTP_SAVPF) return "not UDP/TLS/RTP/SAVPF";
    if (!find_codec(m, k)) return "no codec we support";
    if (!m->rtcp_mux) return "no rtcp-mux";
  } else {
    return "a media type we do not support";
  }
  /* max-bundle (RFC 9429 4.1.13.1): everything rides the tag's transport */
  const mc_sdp_group *g = bundle_group(offer);
  if (g && !in_group(g, m->mid)) return "not in the BUNDLE group";
  if (i != tag) {
    struct eff_transport a = eff_transport(offer, m), b = eff_transport(offer, &offer->media[tag]);
    if (!g && (strcmp(a.ufrag, b.ufrag) != 0 || strcmp(a.pwd, b.pwd) != 0)) return "on another transport";
  }
  return NULL;
}

/* As unusable_alone, and only the first usable data m-line is accepted: one
 * SCTP association per DTLS transport (RFC 8841 4). */
static const char *unusable(const mc_sdp *offer, int i, int tag) {
  const char *why = unusable_alone(offer, i, tag);
  if (why || strcmp(offer->media[i].media, "application") != 0) return why;
  for (int e = 0; e < i; e++)
    if (strcmp(offer->media[e].media, "application") == 0 && !unusable_alone(offer, e, tag))
      return "a second data m-line";
  return NULL;
}

static enum mc_sdp_setup answer_setup(const mc_jsep *j, enum mc_sdp_setup offered) {
  /* RFC 5763 5 / RFC 8842 5.3; RFC 4145 4: an absent setup means active.
   * On actpass the role of the last exchange is kept: browsers refuse a
   * DTLS role change without a new DTLS association. */
  if (offered == MC_SDP_SETUP_PASSIVE) return MC_SDP_SETUP_ACTIVE;
  if (offered == MC_SDP_SETUP_ACTPASS)
    return j->has_role && !j->role_client ? MC_SDP_SETUP_PASSIVE : MC_SDP_SETUP_ACTIVE;
  return MC_SDP_SETUP_PASSIVE;
}

int mc_jsep_create_answer(mc_jsep *j, mc_sdp *out) {
  if (!j || !out) return MC_EINVAL;
  if (j->state != MC_JSEP_HAVE_REMOTE_OFFER) return MC_ESTATE;
  const mc_sdp *offer = j->pending;
  int tag = tag_index(offer);
  if (tag < 0 || offer->media_count != j->mline_count) return MC_ESTATE;
  /* RFC 8839 4.4.1.1.2: the answer to an ICE restart carries new credentials */
  if (j->transport.ice_restart && !j->restart_pending) {
    int rc = mc_random_ice_chars(j->next_ufrag, 8);
    if (!rc) rc = mc_random_ice_chars(j->next_pwd, 24);
    if (rc) return rc;
    j->restart_pending = true;
  }
  bool new_creds = j->transport.ice_restart && j->restart_pending;
  const char *ufrag = new_creds ? j->next_ufrag : j->ufrag;
  const char *pwd = new_creds ? j->next_pwd : j->pwd;
  enum mc_sdp_setup setup = answer_setup(j, eff_transport(offer, &offer->media[tag]).setup);
  session_init(j, out);
  out->extmap_allow_mixed = offer->extmap_allow_mixed;
  mc_sdp_group *g = &out->groups[0];
  snprintf(g->semantics, sizeof g->semantics, "BUNDLE");
  int accepted = 0;
  for (int i = 0; i < offer->media_count; i++) {
    const mc_sdp_media *om = &offer->media[i];
    mc_sdp_media *m = &out->media[i];
    const struct entry *e = &j->entries[j->mline[i]];
    const char *why = unusable(offer, i, tag);
    if (why) {
      MC_LOGI(COMP, "answer rejects m-line mid=%s media=%s reason=\"%s\"", om->mid, om->media, why);
      media_rejected(m, om->media, om->proto_text, om->fmts[0].fmt, om->fmts[0].pt, om->mid);
      continue;
    }
    accepted++;
    snprintf(g->mids[g->count++], sizeof g->mids[0], "%s", om->mid);
    media_head(m, om->media, 9, om->proto_text, om->mid);
    media_transport(j, m, ufrag, pwd, setup);
    if (e->pub.kind == MC_MEDIA_DATA) {
      add_data(m);
      continue;
    }
    /* RFC 8285 6: only extensions the offer had, with its ids */
    for (int x = 0; x < om->extmap_count; x++)
      if (ext_ours(j, ext_index(om->extmaps[x].uri)))
        add_ext(m, om->extmaps[x].id, om->extmaps[x].dir ? dir_reverse(om->extmaps[x].dir) : MC_SDP_DIR_NONE,
                om->extmaps[x].uri);
    /* RFC 3264 6.1 */
    enum mc_sdp_dir od = media_dir(offer, om);
    bool send = e->pub.has_track && dir_recvs(od);
    m->dir = dir_make(send, dir_sends(od));
    m->rtcp_mux = true;
    m->rtcp_rsize = om->rtcp_rsize;
    /* RFC 9429 5.3.1: the offer's payload type numbers */
    const mc_sdp_payload *op = find_codec(om, e->pub.kind);
    unsigned fb = fb_of(om, op) & fb_ours(j, e->pub.kind);
    const mc_sdp_payload *rtx = NULL;
    if (e->pub.kind == MC_MEDIA_AUDIO) {
      add_fb(add_payload(m, op->pt, "opus", 48000, 2, OUR_OPUS_FMTP), fb);
    } else {
      add_fb(add_payload(m, op->pt, "VP8", 90000, 0, NULL), fb);
      if ((rtx = find_rtx(om, op->pt))) {
        char apt[16];
        snprintf(apt, sizeof apt, "apt=%d", op->pt);
        add_payload(m, rtx->pt, "rtx", 90000, 0, apt);
      }
    }
    if (send) add_sending(j, e, m, rtx != NULL);
  }
  out->media_count = offer->media_count;
  if (g->count) out->group_count = 1;
  else memset(g, 0, sizeof *g);
  MC_LOGD(COMP, "answer created mlines=%d accepted=%d version=%llu setup=%s", out->media_count, accepted,
          (unsigned long long)j->sess_version, setup == MC_SDP_SETUP_ACTIVE ? "active" : "passive");
  return 0;
}

/* ---- applying descriptions ---- */

static void take_remote_ssrcs(mc_jsep_media *p, const mc_sdp_media *rm) {
  p->remote_ssrc = 0;
  p->remote_rtx_ssrc = 0;
  p->remote_msid[0] = '\0';
  for (int i = 0; i < rm->ssrc_group_count; i++)
    if (strcmp(rm->ssrc_groups[i].semantics, "FID") == 0 && rm->ssrc_groups[i].count >= 2) {
      p->remote_ssrc = rm->ssrc_groups[i].ssrcs[0];
      p->remote_rtx_ssrc = rm->ssrc_groups[i].ssrcs[1];
      break;
    }
  if (!p->remote_ssrc && rm->ssrc_count > 0) p->remote_ssrc = rm->ssrcs[0].ssrc;
  if (rm->msid_count > 0) {
    snprintf(p->remote_msid, sizeof p->remote_msid, "%s", rm->msid[0]);
  } else {
    for (int i = 0; i < rm->ssrc_count; i++)
      if (rm->ssrcs[i].ssrc == p->remote_ssrc && rm->ssrcs[i].msid[0]) {
        snprintf(p->remote_msid, sizeof p->remote_msid, "%s", rm->ssrcs[i].msid);
        break;
      }
  }
}

/* RFC 8285 6, RFC 9143 9.1: in one bundle an id names one extension. Ids
 * for our extensions that this session has not negotiated yet must avoid
 * the ids the peer gives to other extensions. */
static void settle_ext_ids(mc_jsep *j, const mc_sdp *remote) {
  bool used[256] = {false};
  for (int i = 0; i < remote->media_count; i++)
    for (int x = 0; x < remote->media[i].extmap_count; x++)
      if (ext_index(remote->media[i].extmaps[x].uri) < 0) used[remote->media[i].extmaps[x].id & 255] = true;
  for (int k = 0; k < EXT_COUNT; k++) {
    if (j->ext_learned[k]) continue;
    bool clash = used[j->ext_ids[k]];
    for (int o = 0; o < EXT_COUNT; o++)
      clash |= o != k && j->ext_ids[o] == j->ext_ids[k] && (j->ext_learned[o] || o < k);
    if (!clash) continue;
    for (int id = 1; id <= 14; id++) { /* one-byte header ids (RFC 8285 4.2) */
      bool taken = used[id];
      for (int o = 0; o < EXT_COUNT; o++) taken |= o != k && j->ext_ids[o] == id;
      if (!taken) {
        j->ext_ids[k] = id;
        break;
      }
    }
  }
}

/* Records what the completed exchange agreed, from our point of view. */
static void apply_exchange(mc_jsep *j, const mc_sdp *offer, const mc_sdp *answer, bool we_offered) {
  const mc_sdp *local = we_offered ? offer : answer;
  const mc_sdp *remote = we_offered ? answer : offer;
  for (int i = 0; i < j->mline_count; i++) {
    struct entry *e = &j->entries[j->mline[i]];
    const mc_sdp_media *om = &offer->media[i], *am = &answer->media[i];
    const mc_sdp_media *lm = &local->media[i], *rm = &remote->media[i];
    mc_jsep_media *p = &e->pub;
    e->snap = true;
    p->rejected = offer_rejects(offer, om) || am->port == 0;
    if (p->rejected) {
      p->dir = MC_SDP_DIR_INACTIVE;
      p->pt = p->rtx_pt = -1;
      p->opus_fec = p->fb_nack = p->fb_pli = p->fb_fir = p->fb_remb = p->fb_twcc = false;
      p->ext_mid = p->ext_abs_send_time = p->ext_twcc = 0;
      p->remote_ssrc = p->remote_rtx_ssrc = 0;
      p->remote_msid[0] = '\0';
      p->local_sctp_port = p->remote_sctp_port = 0;
      continue;
    }
    if (p->kind == MC_MEDIA_DATA) {
      p->dir = MC_SDP_DIR_SENDRECV;
      p->local_sctp_port = sctp_port_of(lm);
      p->remote_sctp_port = sctp_port_of(rm);
      /* RFC 8841 6.1: no a=max-message-size (the DTLS/SCTP form has none) means 64 KiB */
      p->remote_max_message_size = rm->has_max_message_size ? rm->max_message_size : MC_SCTP_DEFAULT_REMOTE_MAX_MESSAGE;
      continue;
    }
    p->dir = we_offered ? dir_and(media_dir(offer, om), dir_reverse(media_dir(answer, am))) : media_dir(answer, am);
    const mc_sdp_payload *ap = find_codec(am, p->kind);
    p->pt = ap ? ap->pt : -1;
    const mc_sdp_payload *rtx = ap && p->kind == MC_MEDIA_VIDEO ? find_rtx(am, ap->pt) : NULL;
    p->rtx_pt = rtx ? rtx->pt : -1;
    unsigned fb = ap ? fb_of(am, ap) & fb_ours(j, p->kind) : 0;
    p->fb_nack = fb & FB_NACK;
    p->fb_pli = fb & FB_PLI;
    p->fb_fir = fb & FB_FIR;
    p->fb_remb = fb & FB_REMB;
    p->fb_twcc = fb & FB_TWCC;
    const mc_sdp_payload *rp = ap ? mc_sdp_payload_find(rm, ap->pt) : NULL;
    long fec = 0;
    p->opus_fec = p->kind == MC_MEDIA_AUDIO && rp && fmtp_int(rp, "useinbandfec", &fec) && fec == 1;
    p->ext_abs_send_time = p->ext_twcc = p->ext_mid = 0;
    for (int x = 0; x < am->extmap_count; x++) {
      int k = ext_index(am->extmaps[x].uri);
      int id = am->extmaps[x].id;
      if (!ext_ours(j, k)) continue;
      if (k == EXT_ABS) p->ext_abs_send_time = id;
      else if (k == EXT_TWCC) p->ext_twcc = id;
      else if (k == EXT_MID) p->ext_mid = id;
      /* RFC 9143 9.1: in one bundle a URI keeps its id; later m-lines reuse it */
      if (k >= 0) {
        j->ext_ids[k] = id;
        j->ext_learned[k] = true;
      }
    }
    take_remote_ssrcs(p, rm);
    e->snap_local_dir = media_dir(local, lm);
    e->snap_offer_rev = we_offered ? MC_SDP_DIR_SENDRECV : dir_reverse(media_dir(offer, om));
    snprintf(e->snap_msid, sizeof e->snap_msid, "%s", lm->msid_count ? lm->msid[0] : "");
    e->snap_ssrc = lm->ssrc_count ? lm->ssrcs[0].ssrc : 0;
  }
  settle_ext_ids(j, remote);
  /* RFC 5763 5: the answer's setup fixes who sends the ClientHello */
  int atag = tag_index(answer);
  if (atag >= 0) {
    enum mc_sdp_setup as = eff_transport(answer, &answer->media[atag]).setup;
    bool answerer_active = as != MC_SDP_SETUP_PASSIVE; /* RFC 4145 4: absent means active */
    j->transport.dtls_client = we_offered ? !answerer_active : answerer_active;
    j->has_role = true;
    j->role_client = j->transport.dtls_client;
  }
  /* our credentials of this exchange are now the current ones */
  int ltag = tag_index(local);
  if (ltag >= 0) {
    struct eff_transport lt = eff_transport(local, &local->media[ltag]);
    if (j->restart_pending && strcmp(lt.ufrag, j->next_ufrag) == 0 && strcmp(lt.pwd, j->next_pwd) == 0) {
      snprintf(j->ufrag, sizeof j->ufrag, "%s", j->next_ufrag);
      snprintf(j->pwd, sizeof j->pwd, "%s", j->next_pwd);
      j->restart_pending = false;
      memset(j->next_pwd, 0, sizeof j->next_pwd);
    }
  }
  j->state = MC_JSEP_STABLE;
  MC_LOGI(COMP, "exchange complete role=%s mlines=%d", j->transport.dtls_client ? "client" : "server", j->mline_count);
}

static int check_mids(const mc_sdp *s, const char *what, char *why, size_t cap) {
  for (int i = 0; i < s->media_count; i++) {
    const mc_sdp_media *m = &s->media[i];
    if (!m->mid[0]) return refuse(why, cap, "The %s's m-line %d has no a=mid.", what, i);
    if (!is_token(m->mid, 32)) return refuse(why, cap, "The %s's m-line %d has a mid that is not a token.", what, i);
    for (int k = 0; k < i; k++)
      if (strcmp(s->media[k].mid, m->mid) == 0)
        return refuse(why, cap, "The %s uses mid %s for two m-lines.", what, m->mid);
  }
  const mc_sdp_group *g = bundle_group(s);
  if (g)
    for (int i = 0; i < g->count; i++)
      if (media_index(s, g->mids[i]) < 0)
        return refuse(why, cap, "The %s's BUNDLE group names mid %s, which has no m-line.", what, g->mids[i]);
  return 0;
}

/* The checks every remote description passes: mids, ICE credentials, DTLS
 * fingerprint and setup of the bundled transport (RFC 8839 5.4, RFC 8122 5,
 * RFC 8842 5). */
static int check_transport(const mc_sdp *s, enum mc_sdp_type type, char *why, size_t cap, int *tag_out) {
  const char *what = mc_sdp_type_name(type);
  int rc = check_mids(s, what, why, cap);
  if (rc) return rc;
  int tag = tag_index(s);
  *tag_out = tag;
  /* RFC 9429 5.3.1: an answer may reject every m-line; then no transport */
  if (tag < 0 && type == MC_SDP_ANSWER) return 0;
  if (tag < 0) return refuse(why, cap, "The %s has no m-line that is not rejected.", what);
  const mc_sdp_group *g = bundle_group(s);
  struct eff_transport t = eff_transport(s, &s->media[tag]);
  for (int i = 0; i < s->media_count; i++) {
    const mc_sdp_media *m = &s->media[i];
    if (m->port == 0) continue;
    struct eff_transport mt = eff_transport(s, m);
    if (!mt.ufrag[0] || !mt.pwd[0])
      return refuse(why, cap, "The %s's m-line with mid %s has no a=ice-ufrag and a=ice-pwd.", what, m->mid);
    if (!g && (strcmp(mt.ufrag, t.ufrag) != 0 || strcmp(mt.pwd, t.pwd) != 0))
      return refuse(why, cap, "The %s puts m-lines %s and %s on different ICE transports without BUNDLE.", what,
                    s->media[tag].mid, m->mid);
  }
  if (!t.fp) return refuse(why, cap, "The %s has no a=fingerprint for its DTLS certificate.", what);
  if (!fingerprint_supported(t.fp))
    return refuse(why, cap, "The %s's fingerprint uses hash %s, which is not one of sha-256, sha-1, sha-384, sha-512.",
                  what, t.fp->fp_algorithm);
  if (t.setup == MC_SDP_SETUP_HOLDCONN) return refuse(why, cap, "The %s says a=setup:holdconn.", what);
  if (type == MC_SDP_ANSWER && t.setup == MC_SDP_SETUP_ACTPASS)
    return refuse(why, cap, "The answer says a=setup:actpass, which only an offer may say.");
  return 0;
}

/* RFC 9429 5.8 / RFC 3264 6: the answer's m-lines mirror our offer's. */
static int check_answer(const mc_jsep *j, const mc_sdp *a, char *why, size_t cap) {
  const mc_sdp *o = j->pending;
  if (a->media_count != o->media_count)
    return refuse(why, cap, "The answer has %d m-lines where the offer had %d.", a->media_count, o->media_count);
  const mc_sdp_group *g = bundle_group(a);
  for (int i = 0; i < a->media_count; i++) {
    const mc_sdp_media *am = &a->media[i], *om = &o->media[i];
    if (strcmp(am->mid, om->mid) != 0 || strcmp(am->media, om->media) != 0)
      return refuse(why, cap, "The answer's m-line %d (mid %s) does not match the offer's (mid %s).", i, am->mid,
                    om->mid);
    if (am->port == 0) continue;
    if (offer_rejects(o, om))
      return refuse(why, cap, "The answer accepts the m-line with mid %s, which the offer rejected.", am->mid);
    if (g && !in_group(g, am->mid))
      return refuse(why, cap, "The answer accepts the m-line with mid %s outside its BUNDLE group.", am->mid);
    enum mc_media_kind k = j->entries[j->mline[i]].pub.kind;
    bool data = k == MC_MEDIA_DATA && mc_sdp_proto_is_sctp(om->proto);
    /* an older stack may answer our UDP/DTLS/SCTP in its DTLS/SCTP form */
    bool same_proto = am->proto == om->proto && strcmp(am->proto_text, om->proto_text) == 0;
    if (data ? !mc_sdp_proto_is_sctp(am->proto) : !same_proto)
      return refuse(why, cap, "The answer's m-line with mid %s changes the protocol.", am->mid);
    if (data) {
      const char *bad = not_datachannel(am);
      if (bad) return refuse(why, cap, "The answer's data m-line with mid %s cannot be used: %s.", am->mid, bad);
      continue;
    }
    if (!am->rtcp_mux) return refuse(why, cap, "The answer's m-line with mid %s lacks a=rtcp-mux.", am->mid);
    for (int f = 0; f < am->fmt_count; f++) {
      const mc_sdp_payload *ap = &am->fmts[f];
      const mc_sdp_payload *op = mc_sdp_payload_find(om, ap->pt);
      if (!op || (ap->has_rtpmap && (!op->has_rtpmap || strcasecmp(ap->encoding, op->encoding) != 0 ||
                                     ap->clock_rate != op->clock_rate)))
        return refuse(why, cap, "The answer's m-line with mid %s has payload type %s, which the offer did not have.",
                      am->mid, ap->fmt);
    }
    if (!find_codec(am, k))
      return refuse(why, cap, "The answer's m-line with mid %s has no %s codec that was offered.", am->mid,
                    k == MC_MEDIA_AUDIO ? "Opus" : "VP8");
  }
  return 0;
}

/* RFC 9429 5.10: the offer's m-lines against the ones we already have. */
static int check_offer_mlines(const mc_jsep *j, const mc_sdp *o, char *why, size_t cap) {
  if (o->media_count < j->mline_count)
    return refuse(why, cap, "The offer has %d m-lines where the session has %d; m-lines cannot be removed.",
                  o->media_count, j->mline_count);
  for (int i = 0; i < o->media_count; i++) {
    const mc_sdp_media *m = &o->media[i];
    if (i < j->mline_count) {
      const struct entry *e = &j->entries[j->mline[i]];
      if (strcmp(e->pub.mid, m->mid) == 0) {
        if (strcmp(e->media, m->media) != 0)
          return refuse(why, cap, "The offer changes m-line %s from %s to %s.", m->mid, e->media, m->media);
        continue;
      }
      /* RFC 9429 5.2.2: only a rejected m-line's slot may be reused */
      if (!e->pub.rejected)
        return refuse(why, cap, "The offer's m-line %d has mid %s where the session has %s.", i, m->mid, e->pub.mid);
    }
    for (int k = 0; k < j->mline_count; k++)
      if (k != i && strcmp(j->entries[j->mline[k]].pub.mid, m->mid) == 0)
        return refuse(why, cap, "The offer moves mid %s to another m-line.", m->mid);
  }
  return 0;
}

static void take_transport(mc_jsep *j, const mc_sdp *s, int tag) {
  const mc_sdp_media *m = &s->media[tag];
  struct eff_transport t = eff_transport(s, m);
  struct mc_jsep_transport *x = &j->transport;
  /* RFC 8839 4.4.1.1.1: changed credentials mean an ICE restart */
  x->ice_restart = j->has_transport && (strcmp(x->remote_ufrag, t.ufrag) != 0 || strcmp(x->remote_pwd, t.pwd) != 0);
  snprintf(x->remote_ufrag, sizeof x->remote_ufrag, "%s", t.ufrag);
  snprintf(x->remote_pwd, sizeof x->remote_pwd, "%s", t.pwd);
  snprintf(x->remote_fp_algorithm, sizeof x->remote_fp_algorithm, "%s", t.fp->fp_algorithm);
  memcpy(x->remote_fp, t.fp->fp, sizeof x->remote_fp);
  x->remote_fp_len = t.fp->fp_len;
  x->candidate_count = m->candidate_count;
  for (int i = 0; i < m->candidate_count; i++) memcpy(x->candidates[i], m->candidates[i], sizeof x->candidates[i]);
  x->end_of_candidates = m->end_of_candidates;
  j->has_transport = true;
  if (x->ice_restart) MC_LOGI(COMP, "remote ICE restart ufrag=%s", x->remote_ufrag);
}

/* Gives every new m-line of a remote offer a transceiver: one of ours not
 * yet in an m-line when the kind matches and the m-line is usable, else a
 * new receive-only one (RFC 9429 5.10). */
static int associate_offer(mc_jsep *j, const mc_sdp *o, int tag) {
  int need = 0;
  for (int i = 0; i < o->media_count; i++)
    if (i >= j->mline_count || strcmp(j->entries[j->mline[i]].pub.mid, o->media[i].mid) != 0) need++;
  if (j->entry_count + need > MAX_ENTRIES) return MC_ETOOBIG;
  /* mids a create_offer chose but never applied are chosen again later,
   * after the peer's mids are known */
  for (int x = 0; x < j->entry_count; x++)
    if (j->entries[x].mline < 0 && !j->entries[x].pub.rejected) j->entries[x].pub.mid[0] = '\0';
  for (int i = 0; i < o->media_count; i++) {
    const mc_sdp_media *m = &o->media[i];
    if (i < j->mline_count) {
      struct entry *old = &j->entries[j->mline[i]];
      if (strcmp(old->pub.mid, m->mid) == 0) continue;
      old->mline = -1; /* a recycled rejected slot */
    }
    enum mc_media_kind k = kind_of(m);
    struct entry *e = NULL;
    bool usable = !unusable(o, i, tag);
    if (usable)
      for (int x = 0; x < j->entry_count && !e; x++) {
        struct entry *c = &j->entries[x];
        if (c->mline < 0 && !c->pub.rejected && c->pub.kind == k) e = c;
      }
    if (!e) e = entry_new(j, k);
    /* our answer will reject it: say so now, so that nobody uses it meanwhile */
    if (!usable) {
      e->pub.rejected = true;
      e->pub.dir = MC_SDP_DIR_INACTIVE;
    }
    snprintf(e->pub.mid, sizeof e->pub.mid, "%s", m->mid);
    snprintf(e->media, sizeof e->media, "%s", m->media);
    snprintf(e->proto, sizeof e->proto, "%s", m->proto_text);
    snprintf(e->fmt0, sizeof e->fmt0, "%s", m->fmts[0].fmt);
    e->fmt0_pt = m->fmts[0].pt;
    e->mline = i;
    j->mline[i] = (int)(e - j->entries);
    if (i >= j->mline_count) j->mline_count = i + 1;
    MC_LOGD(COMP, "m-line associated mid=%s index=%d", m->mid, (int)(e - j->entries));
  }
  return 0;
}

int mc_jsep_set_remote(mc_jsep *j, enum mc_sdp_type type, const mc_sdp *sdp, char *why, size_t why_cap) {
  if (why && why_cap) why[0] = '\0';
  if (!j || !sdp) return MC_EINVAL;
  if (!sdp_model_counts_ok(sdp))
    return refuse(why, why_cap, "The %s's model has counts beyond the SDP limits.", mc_sdp_type_name(type));
  if (type == MC_SDP_OFFER && j->state == MC_JSEP_HAVE_LOCAL_OFFER)
    return refuse(why, why_cap, "An offer arrived while our own offer waits for its answer.");
  if (type == MC_SDP_ANSWER && j->state != MC_JSEP_HAVE_LOCAL_OFFER)
    return refuse(why, why_cap, "An answer arrived in state %s, when no offer of ours waits for one.",
                  mc_jsep_state_name(j->state));
  if (type != MC_SDP_OFFER && type != MC_SDP_ANSWER) return MC_EINVAL;
  int tag = -1;
  int rc = check_transport(sdp, type, why, why_cap, &tag);
  if (rc) return rc;
  if (type == MC_SDP_ANSWER) {
    if ((rc = check_answer(j, sdp, why, why_cap))) return rc;
    if (tag >= 0) take_transport(j, sdp, tag);
    apply_exchange(j, j->pending, sdp, true);
    return 0;
  }
  if ((rc = check_offer_mlines(j, sdp, why, why_cap))) return rc;
  if ((rc = associate_offer(j, sdp, tag)))
    return refuse(why, why_cap, "The offer has more m-lines than this endpoint can hold.");
  take_transport(j, sdp, tag);
  memcpy(j->pending, sdp, sizeof *sdp);
  j->state = MC_JSEP_HAVE_REMOTE_OFFER;
  MC_LOGI(COMP, "remote offer set mlines=%d", sdp->media_count);
  return 0;
}

int mc_jsep_set_local(mc_jsep *j, enum mc_sdp_type type, const mc_sdp *sdp) {
  if (!j || !sdp || !sdp_model_counts_ok(sdp)) return MC_EINVAL;
  if (type == MC_SDP_ANSWER) {
    if (j->state != MC_JSEP_HAVE_REMOTE_OFFER) return MC_ESTATE;
    const mc_sdp *o = j->pending;
    if (sdp->media_count != o->media_count) return MC_EINVAL;
    for (int i = 0; i < sdp->media_count; i++)
      if (strcmp(sdp->media[i].mid, o->media[i].mid) != 0 || (sdp->media[i].port && offer_rejects(o, &o->media[i])))
        return MC_EINVAL;
    apply_exchange(j, o, sdp, false);
    return 0;
  }
  if (type != MC_SDP_OFFER) return MC_EINVAL;
  if (j->state == MC_JSEP_HAVE_REMOTE_OFFER) return MC_ESTATE;
  if (sdp->media_count < j->mline_count) return MC_EINVAL;
  int idx[MC_SDP_MAX_MEDIA];
  for (int i = 0; i < sdp->media_count; i++) {
    const char *mid = sdp->media[i].mid;
    if (i < j->mline_count) {
      if (strcmp(j->entries[j->mline[i]].pub.mid, mid) != 0) return MC_EINVAL;
      idx[i] = j->mline[i];
      continue;
    }
    idx[i] = -1;
    for (int x = 0; x < j->entry_count; x++)
      if (j->entries[x].mline < 0 && !j->entries[x].pub.rejected && strcmp(j->entries[x].pub.mid, mid) == 0)
        idx[i] = x;
    if (idx[i] < 0) return MC_EINVAL;
    for (int k = j->mline_count; k < i; k++)
      if (idx[k] == idx[i]) return MC_EINVAL;
  }
  for (int i = j->mline_count; i < sdp->media_count; i++) {
    j->entries[idx[i]].mline = i;
    j->mline[i] = idx[i];
  }
  j->mline_count = sdp->media_count;
  memcpy(j->pending, sdp, sizeof *sdp);
  j->state = MC_JSEP_HAVE_LOCAL_OFFER;
  return 0;
}

enum mc_jsep_state mc_jsep_state(const mc_jsep *j) { return j ? j->state : MC_JSEP_STABLE; }

int mc_jsep_media_count(const mc_jsep *j) { return j ? j->entry_count : 0; }

const mc_jsep_media *mc_jsep_media_at(const mc_jsep *j, int index) {
  if (!j || index < 0 || index >= j->entry_count) return NULL;
  return &j->entries[index].pub;
}

int mc_jsep_media_index(const mc_jsep *j, const char *mid) {
  if (!j || !mid) return MC_EINVAL;
  for (int i = 0; i < j->mline_count; i++)
    if (strcmp(j->entries[j->mline[i]].pub.mid, mid) == 0) return j->mline[i];
  return MC_ENOTFOUND;
}

int mc_jsep_transport(const mc_jsep *j, const struct mc_jsep_transport **out) {
  if (!j || !out) return MC_EINVAL;
  if (!j->has_transport) return MC_ESTATE;
  *out = &j->transport;
  return 0;
}
