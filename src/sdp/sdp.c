/* SDP parser and writer: see sdp.h for the scope and limits. */
#include "sdp/sdp.h"
#include "sdp/sdp_private.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *p; /* the current line's value (after "x=") */
  size_t n;
} span;

typedef struct {
  int line;
  char *why;
  size_t why_cap;
} perr;

static int fail(perr *e, int code, const char *fmt, ...) {
  if (e->why && e->why_cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, e->why_cap, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* Copies a span into a fixed buffer, zero-filling the rest so models compare
 * with memcmp; a value that does not fit is a limit, not silent truncation. */
static int set_str(char *dst, size_t cap, span s, perr *e, const char *what) {
  if (s.n >= cap) return fail(e, MC_ETOOBIG, "%s is longer than %zu bytes.", what, cap - 1);
  memset(dst, 0, cap);
  if (s.n) memcpy(dst, s.p, s.n);
  return 0;
}

static bool span_eq(span s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Splits off the next space-separated token; runs of spaces count as one. */
static bool next_tok(span *rest, span *tok) {
  while (rest->n && rest->p[0] == ' ') rest->p++, rest->n--;
  if (!rest->n) return false;
  size_t i = 0;
  while (i < rest->n && rest->p[i] != ' ') i++;
  tok->p = rest->p;
  tok->n = i;
  rest->p += i;
  rest->n -= i;
  return true;
}

static span skip_sp(span s) {
  while (s.n && s.p[0] == ' ') s.p++, s.n--;
  return s;
}

/* Decimal digits only: no sign, no whitespace, bounded by max. */
static bool parse_u64(span s, uint64_t max, uint64_t *out) {
  if (s.n == 0 || s.n > 20) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return false;
    unsigned d = (unsigned)(s.p[i] - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static const char *dir_names[] = {NULL, "sendrecv", "sendonly", "recvonly", "inactive"};
static const char *setup_names[] = {NULL, "actpass", "active", "passive", "holdconn"};

static enum mc_sdp_dir dir_from(span s) {
  for (int i = 1; i <= 4; i++)
    if (span_eq(s, dir_names[i])) return (enum mc_sdp_dir)i;
  return MC_SDP_DIR_NONE;
}

/* RFC 8866 5.7: c=<nettype> <addrtype> <connection-address> */
static int parse_conn(span v, mc_sdp_conn *c, perr *e) {
  span a, b, d, x;
  if (!next_tok(&v, &a) || !next_tok(&v, &b) || !next_tok(&v, &d) || next_tok(&v, &x))
    return fail(e, MC_EPARSE, "c= needs exactly nettype, addrtype and address.");
  int rc;
  if ((rc = set_str(c->nettype, sizeof c->nettype, a, e, "c= nettype")) ||
      (rc = set_str(c->addrtype, sizeof c->addrtype, b, e, "c= addrtype")) ||
      (rc = set_str(c->address, sizeof c->address, d, e, "c= address")))
    return rc;
  c->present = true;
  return 0;
}

/* RFC 8122 5: fingerprint-attribute = hash-func SP fingerprint, the
 * fingerprint being 2UHEX *(":" 2UHEX); lower case hex is accepted too. */
static int parse_fingerprint(span v, mc_sdp_transport *t, perr *e) {
  span alg, hex, x;
  if (!next_tok(&v, &alg) || !next_tok(&v, &hex) || next_tok(&v, &x))
    return fail(e, MC_EPARSE, "fingerprint needs a hash function and one hex value.");
  int rc = set_str(t->fp_algorithm, sizeof t->fp_algorithm, alg, e, "fingerprint hash function");
  if (rc) return rc;
  if ((hex.n + 1) % 3 != 0) return fail(e, MC_EPARSE, "fingerprint is not colon-separated hex byte pairs.");
  size_t nbytes = (hex.n + 1) / 3;
  if (nbytes > MC_SDP_MAX_FINGERPRINT)
    return fail(e, MC_ETOOBIG, "fingerprint is longer than %d bytes.", MC_SDP_MAX_FINGERPRINT);
  uint8_t bytes[MC_SDP_MAX_FINGERPRINT] = {0};
  for (size_t i = 0; i < nbytes; i++) {
    int hi = hexval(hex.p[3 * i]), lo = hexval(hex.p[3 * i + 1]);
    if (hi < 0 || lo < 0 || (i + 1 < nbytes && hex.p[3 * i + 2] != ':'))
      return fail(e, MC_EPARSE, "fingerprint is not colon-separated hex byte pairs.");
    bytes[i] = (uint8_t)(hi << 4 | lo);
  }
  memcpy(t->fp, bytes, sizeof bytes);
  t->fp_len = nbytes;
  t->has_fingerprint = true;
  return 0;
}

/* Attributes valid at both levels: ICE (RFC 8839 5.3-5.6) and DTLS
 * (RFC 8122 5, RFC 4145 4). Returns 1 when the name was not one of them. */
static int parse_transport_attr(span name, span val, mc_sdp_transport *t, perr *e) {
  if (span_eq(name, "ice-ufrag")) {
    if (!val.n) return fail(e, MC_EPARSE, "ice-ufrag is empty.");
    return set_str(t->ice_ufrag, sizeof t->ice_ufrag, val, e, "ice-ufrag");
  }
  if (span_eq(name, "ice-pwd")) {
    if (!val.n) return fail(e, MC_EPARSE, "ice-pwd is empty.");
    return set_str(t->ice_pwd, sizeof t->ice_pwd, val, e, "ice-pwd");
  }
  if (span_eq(name, "ice-options")) return set_str(t->ice_options, sizeof t->ice_options, val, e, "ice-options");
  if (span_eq(name, "fingerprint")) return parse_fingerprint(val, t, e);
  if (span_eq(name, "setup")) {
    for (int i = 1; i <= 4; i++)
      if (span_eq(val, setup_names[i])) {
        t->setup = (enum mc_sdp_setup)i;
        return 0;
      }
    return fail(e, MC_EPARSE, "setup must be actpass, active, passive or holdconn.");
  }
  return 1;
}

static const struct {
  const char *text;
  enum mc_sdp_proto proto;
} protos[] = {
    {"UDP/TLS/RTP/SAVPF", MC_SDP_PROTO_RTP_SAVPF},
    {"UDP/DTLS/SCTP", MC_SDP_PROTO_DTLS_SCTP},
    {"TCP/DTLS/SCTP", MC_SDP_PROTO_TCP_DTLS_SCTP},
    {"DTLS/SCTP", MC_SDP_PROTO_LEGACY_SCTP},
};

enum mc_sdp_proto mc_sdp_proto_of(const char *text) {
  for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
    if (strcmp(text, protos[i].text) == 0) return protos[i].proto;
  return MC_SDP_PROTO_OTHER;
}

bool mc_sdp_proto_is_sctp(enum mc_sdp_proto p) {
  return p == MC_SDP_PROTO_DTLS_SCTP || p == MC_SDP_PROTO_TCP_DTLS_SCTP || p == MC_SDP_PROTO_LEGACY_SCTP;
}

/* RFC 8866 5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static int parse_mline(span v, mc_sdp_media *m, perr *e) {
  span media, port, proto, fmt;
  if (!next_tok(&v, &media) || !next_tok(&v, &port) || !next_tok(&v, &proto))
    return fail(e, MC_EPARSE, "m= needs media, port, proto and formats.");
  int rc;
  if ((rc = set_str(m->media, sizeof m->media, media, e, "m= media type"))) return rc;
  span pcount = {NULL, 0};
  for (size_t i = 0; i < port.n; i++)
    if (port.p[i] == '/') {
      pcount.p = port.p + i + 1;
      pcount.n = port.n - i - 1;
      port.n = i;
      break;
    }
  uint64_t n;
  if (!parse_u64(port, 65535, &n)) return fail(e, MC_EPARSE, "m= port is not a number from 0 to 65535.");
  m->port = (uint16_t)n;
  if (pcount.p) {
    if (!parse_u64(pcount, 65535, &n) || n == 0) return fail(e, MC_EPARSE, "m= number of ports is not valid.");
    m->port_count = (uint16_t)n;
  }
  if ((rc = set_str(m->proto_text, sizeof m->proto_text, proto, e, "m= proto"))) return rc;
  m->proto = mc_sdp_proto_of(m->proto_text);
  bool rtp = proto.n >= 3 && memmem(proto.p, proto.n, "RTP", 3) != NULL;
  while (next_tok(&v, &fmt)) {
    if (m->fmt_count >= MC_SDP_MAX_FMT) return fail(e, MC_ETOOBIG, "m= has more than %d formats.", MC_SDP_MAX_FMT);
    mc_sdp_payload *p = &m->fmts[m->fmt_count];
    if ((rc = set_str(p->fmt, sizeof p->fmt, fmt, e, "m= format"))) return rc;
    p->pt = -1;
    if (rtp) {
      if (!parse_u64(fmt, 127, &n)) return fail(e, MC_EPARSE, "m= RTP format is not a payload type from 0 to 127.");
      p->pt = (int)n;
    }
    m->fmt_count++;
  }
  if (m->fmt_count == 0) return fail(e, MC_EPARSE, "m= has no formats.");
  return 0;
}

static mc_sdp_payload *payload_mut(mc_sdp_media *m, int pt) {
  for (int i = 0; i < m->fmt_count; i++)
    if (m->fmts[i].pt == pt) return &m->fmts[i];
  return NULL;
}

/* "<pt> <rest>": the payload type must be numeric. */
static int split_pt(span val, const char *what, uint64_t *pt, span *rest, perr *e) {
  size_t i = 0;
  while (i < val.n && val.p[i] != ' ') i++;
  span t = {val.p, i};
  if (!parse_u64(t, 127, pt)) return fail(e, MC_EPARSE, "%s payload type is not a number from 0 to 127.", what);
  rest->p = val.p + i;
  rest->n = val.n - i;
  *rest = skip_sp(*rest);
  return 0;
}

static mc_sdp_ssrc *ssrc_entry(mc_sdp_media *m, uint32_t id, perr *e, int *rc) {
  for (int i = 0; i < m->ssrc_count; i++)
    if (m->ssrcs[i].ssrc == id) return &m->ssrcs[i];
  if (m->ssrc_count >= MC_SDP_MAX_SSRC) {
    *rc = fail(e, MC_ETOOBIG, "more than %d SSRCs in one m= section.", MC_SDP_MAX_SSRC);
    return NULL;
  }
  mc_sdp_ssrc *s = &m->ssrcs[m->ssrc_count++];
  s->ssrc = id;
  return s;
}

static int parse_media_attr(span name, span val, mc_sdp_media *m, perr *e) {
  int rc = parse_transport_attr(name, val, &m->transport, e);
  if (rc <= 0) return rc;
  uint64_t n;
  span rest, tok;
  if (span_eq(name, "mid")) {
    if (!val.n) return fail(e, MC_EPARSE, "mid is empty.");
    return set_str(m->mid, sizeof m->mid, val, e, "mid");
  }
  if (dir_from(name) && !val.p) {
    m->dir = dir_from(name);
    return 0;
  }
  if (span_eq(name, "rtcp-mux")) return m->rtcp_mux = true, 0;
  if (span_eq(name, "rtcp-rsize")) return m->rtcp_rsize = true, 0;
  if (span_eq(name, "extmap-allow-mixed")) return m->extmap_allow_mixed = true, 0;
  if (span_eq(name, "end-of-candidates")) return m->end_of_candidates = true, 0;
  if (span_eq(name, "msid")) {
    if (!val.n) return fail(e, MC_EPARSE, "msid is empty.");
    if (m->msid_count >= MC_SDP_MAX_MSID) return fail(e, MC_ETOOBIG, "more than %d msid lines.", MC_SDP_MAX_MSID);
    if ((rc = set_str(m->msid[m->msid_count], sizeof m->msid[0], val, e, "msid"))) return rc;
    m->msid_count++;
    return 0;
  }
  /* RFC 8866 6.6: a=rtpmap:<pt> <encoding name>/<clock rate>[/<params>] */
  if (span_eq(name, "rtpmap")) {
    if ((rc = split_pt(val, "rtpmap", &n, &rest, e))) return rc;
    span enc = rest, clock = {NULL, 0}, ch = {NULL, 0};
    const char *s1 = memchr(rest.p, '/', rest.n);
    if (!s1 || s1 == rest.p) return fail(e, MC_EPARSE, "rtpmap needs encoding/clock-rate.");
    enc.n = (size_t)(s1 - rest.p);
    clock.p = s1 + 1;
    clock.n = rest.n - enc.n - 1;
    const char *s2 = memchr(clock.p, '/', clock.n);
    if (s2) {
      ch.p = s2 + 1;
      ch.n = (size_t)(clock.p + clock.n - ch.p);
      clock.n = (size_t)(s2 - clock.p);
    }
    uint64_t cr, chn = 0;
    if (memchr(enc.p, ' ', enc.n)) return fail(e, MC_EPARSE, "rtpmap encoding name contains a space.");
    if (!parse_u64(clock, UINT32_MAX, &cr) || cr == 0) return fail(e, MC_EPARSE, "rtpmap clock rate is not a number.");
    if (ch.p && (!parse_u64(ch, 255, &chn) || chn == 0)) return fail(e, MC_EPARSE, "rtpmap channels is not a number from 1 to 255.");
    mc_sdp_payload *p = payload_mut(m, (int)n);
    if (!p) return 0; /* RFC 8866 6.6: a map for an unlisted format is ignored */
    if ((rc = set_str(p->encoding, sizeof p->encoding, enc, e, "rtpmap encoding name"))) return rc;
    p->has_rtpmap = true;
    p->clock_rate = (uint32_t)cr;
    p->channels = (uint32_t)chn;
    return 0;
  }
  /* RFC 8866 6.15: a=fmtp:<format> <format specific parameters> */
  if (span_eq(name, "fmtp")) {
    if ((rc = split_pt(val, "fmtp", &n, &rest, e))) return rc;
    mc_sdp_payload *p = payload_mut(m, (int)n);
    if (!p) return 0;
    if ((rc = set_str(p->fmtp, sizeof p->fmtp, rest, e, "fmtp parameters"))) return rc;
    p->has_fmtp = true;
    return 0;
  }
  /* RFC 4585 4.2: a=rtcp-fb:<pt or *> <val> */
  if (span_eq(name, "rtcp-fb")) {
    int *count;
    char (*list)[32];
    if (val.n && val.p[0] == '*' && (val.n == 1 || val.p[1] == ' ')) {
      rest = skip_sp((span){val.p + 1, val.n - 1});
      count = &m->rtcp_fb_all_count;
      list = m->rtcp_fb_all;
    } else {
      if ((rc = split_pt(val, "rtcp-fb", &n, &rest, e))) return rc;
      mc_sdp_payload *p = payload_mut(m, (int)n);
      if (!p) return 0;
      count = &p->rtcp_fb_count;
      list = p->rtcp_fb;
    }
    if (!rest.n) return fail(e, MC_EPARSE, "rtcp-fb has no feedback type.");
    if (*count >= MC_SDP_MAX_RTCP_FB) return fail(e, MC_ETOOBIG, "more than %d rtcp-fb values for one payload type.", MC_SDP_MAX_RTCP_FB);
    if ((rc = set_str(list[*count], sizeof list[0], rest, e, "rtcp-fb value"))) return rc;
    (*count)++;
    return 0;
  }
  /* RFC 8285 5: a=extmap:<value>["/"<direction>] <URI> <extensionattributes> */
  if (span_eq(name, "extmap")) {
    rest = val;
    if (!next_tok(&rest, &tok)) return fail(e, MC_EPARSE, "extmap has no id.");
    if (m->extmap_count >= MC_SDP_MAX_EXTMAP) return fail(e, MC_ETOOBIG, "more than %d extmap lines.", MC_SDP_MAX_EXTMAP);
    mc_sdp_extmap *x = &m->extmaps[m->extmap_count];
    const char *slash = memchr(tok.p, '/', tok.n);
    span id = tok;
    if (slash) {
      id.n = (size_t)(slash - tok.p);
      span d = {slash + 1, tok.n - id.n - 1};
      x->dir = dir_from(d);
      if (!x->dir) return fail(e, MC_EPARSE, "extmap direction is not sendrecv, sendonly, recvonly or inactive.");
    }
    if (!parse_u64(id, 255, &n) || n == 0) return fail(e, MC_EPARSE, "extmap id is not a number from 1 to 255.");
    x->id = (int)n;
    if (!next_tok(&rest, &tok)) return fail(e, MC_EPARSE, "extmap has no URI.");
    if ((rc = set_str(x->uri, sizeof x->uri, tok, e, "extmap URI"))) return rc;
    if ((rc = set_str(x->attributes, sizeof x->attributes, skip_sp(rest), e, "extmap attributes"))) return rc;
    m->extmap_count++;
    return 0;
  }
  /* RFC 5576 4.1: a=ssrc:<ssrc-id> <attribute>:<value> */
  if (span_eq(name, "ssrc")) {
    rest = val;
    if (!next_tok(&rest, &tok) || !parse_u64(tok, UINT32_MAX, &n)) return fail(e, MC_EPARSE, "ssrc id is not a 32-bit number.");
    rest = skip_sp(rest);
    const char *colon = memchr(rest.p, ':', rest.n);
    if (!rest.n) return fail(e, MC_EPARSE, "ssrc line has no attribute.");
    span an = {rest.p, colon ? (size_t)(colon - rest.p) : rest.n};
    span av = colon ? (span){colon + 1, rest.n - an.n - 1} : (span){NULL, 0};
    bool cname = span_eq(an, "cname"), msid = span_eq(an, "msid");
    if (!cname && !msid) return 0; /* label, mslabel...: tolerated, dropped */
    if (!av.n) return fail(e, MC_EPARSE, "ssrc %s is empty.", cname ? "cname" : "msid");
    mc_sdp_ssrc *s = ssrc_entry(m, (uint32_t)n, e, &rc);
    if (!s) return rc;
    return cname ? set_str(s->cname, sizeof s->cname, av, e, "ssrc cname") : set_str(s->msid, sizeof s->msid, av, e, "ssrc msid");
  }
  /* RFC 5576 4.2: a=ssrc-group:<semantics> <ssrc-id> ... */
  if (span_eq(name, "ssrc-group")) {
    rest = val;
    if (!next_tok(&rest, &tok)) return fail(e, MC_EPARSE, "ssrc-group has no semantics.");
    if (m->ssrc_group_count >= MC_SDP_MAX_SSRC_GROUP) return fail(e, MC_ETOOBIG, "more than %d ssrc-group lines.", MC_SDP_MAX_SSRC_GROUP);
    mc_sdp_ssrc_group *g = &m->ssrc_groups[m->ssrc_group_count];
    if ((rc = set_str(g->semantics, sizeof g->semantics, tok, e, "ssrc-group semantics"))) return rc;
    while (next_tok(&rest, &tok)) {
      if (g->count >= MC_SDP_MAX_GROUP_SSRCS) return fail(e, MC_ETOOBIG, "ssrc-group has more than %d SSRCs.", MC_SDP_MAX_GROUP_SSRCS);
      if (!parse_u64(tok, UINT32_MAX, &n)) return fail(e, MC_EPARSE, "ssrc-group member is not a 32-bit number.");
      g->ssrcs[g->count++] = (uint32_t)n;
    }
    if (!g->count) return fail(e, MC_EPARSE, "ssrc-group has no SSRCs.");
    m->ssrc_group_count++;
    return 0;
  }
  /* RFC 8839 5.1: the value is kept as sent; the ICE layer validates it. */
  if (span_eq(name, "candidate")) {
    if (!val.n) return fail(e, MC_EPARSE, "candidate is empty.");
    if (m->candidate_count >= MC_SDP_MAX_CANDIDATES) return fail(e, MC_ETOOBIG, "more than %d candidates in one m= section.", MC_SDP_MAX_CANDIDATES);
    if ((rc = set_str(m->candidates[m->candidate_count], sizeof m->candidates[0], val, e, "candidate"))) return rc;
    m->candidate_count++;
    return 0;
  }
  /* RFC 8841 5-6 */
  if (span_eq(name, "sctp-port")) {
    if (!parse_u64(val, 65535, &n)) return fail(e, MC_EPARSE, "sctp-port is not a number from 0 to 65535.");
    m->sctp_port = (uint16_t)n;
    m->has_sctp_port = true;
    return 0;
  }
  /* draft-ietf-mmusic-sctp-sdp-05: a=sctpmap:<sctpmap-number> <app> [<value>];
   * the number is the SCTP port that the DTLS/SCTP m= line lists as its format */
  if (span_eq(name, "sctpmap")) {
    span num, app, value, x;
    rest = val;
    if (!next_tok(&rest, &num) || !next_tok(&rest, &app))
      return fail(e, MC_EPARSE, "sctpmap needs a port and an application.");
    if (!parse_u64(num, 65535, &n)) return fail(e, MC_EPARSE, "sctpmap port is not a number from 0 to 65535.");
    uint64_t v = 0;
    bool has_value = next_tok(&rest, &value);
    if (has_value && !parse_u64(value, UINT64_MAX, &v))
      return fail(e, MC_EPARSE, "sctpmap's last field is not a number.");
    if (next_tok(&rest, &x)) return fail(e, MC_EPARSE, "sctpmap has more than three fields.");
    if ((rc = set_str(m->sctpmap_app, sizeof m->sctpmap_app, app, e, "sctpmap application"))) return rc;
    m->sctpmap_port = (uint16_t)n;
    m->has_sctpmap_value = has_value;
    m->sctpmap_value = v;
    m->has_sctpmap = true;
    return 0;
  }
  if (span_eq(name, "bundle-only")) return m->bundle_only = true, 0;
  if (span_eq(name, "max-message-size")) {
    if (!parse_u64(val, UINT64_MAX, &n)) return fail(e, MC_EPARSE, "max-message-size is not a number.");
    m->max_message_size = n;
    m->has_max_message_size = true;
    return 0;
  }
  return 0; /* unknown attribute: tolerated */
}

static int parse_session_attr(span name, span val, mc_sdp *s, perr *e) {
  int rc = parse_transport_attr(name, val, &s->transport, e);
  if (rc <= 0) return rc;
  span rest, tok;
  /* RFC 5888 5 / RFC 9143 7: a=group:<semantics> *(SP identification-tag) */
  if (span_eq(name, "group")) {
    rest = val;
    if (!next_tok(&rest, &tok)) return fail(e, MC_EPARSE, "group has no semantics.");
    if (s->group_count >= MC_SDP_MAX_GROUPS) return fail(e, MC_ETOOBIG, "more than %d group lines.", MC_SDP_MAX_GROUPS);
    mc_sdp_group *g = &s->groups[s->group_count];
    if ((rc = set_str(g->semantics, sizeof g->semantics, tok, e, "group semantics"))) return rc;
    while (next_tok(&rest, &tok)) {
      if (g->count >= MC_SDP_MAX_GROUP_MIDS) return fail(e, MC_ETOOBIG, "group has more than %d mids.", MC_SDP_MAX_GROUP_MIDS);
      if ((rc = set_str(g->mids[g->count], sizeof g->mids[0], tok, e, "group mid"))) return rc;
      g->count++;
    }
    s->group_count++;
    return 0;
  }
  if (span_eq(name, "extmap-allow-mixed")) return s->extmap_allow_mixed = true, 0;
  if (span_eq(name, "msid-semantic")) {
    s->has_msid_semantic = true;
    return set_str(s->msid_semantic, sizeof s->msid_semantic, val, e, "msid-semantic");
  }
  if (dir_from(name) && !val.p) {
    s->dir = dir_from(name);
    return 0;
  }
  return 0;
}

static int parse_lines(const uint8_t *buf, size_t len, mc_sdp *out, perr *e) {
  bool seen_o = false, seen_s = false, seen_t = false;
  mc_sdp_media *m = NULL;
  size_t pos = 0;
  int rc;
  while (pos < len) {
    if (e->line == INT_MAX) return fail(e, MC_ETOOBIG, "too many lines.");
    e->line++;
    size_t end = pos;
    while (end < len && buf[end] != '\n') end++;
    size_t n = end - pos;
    if (n && buf[pos + n - 1] == '\r') n--;
    const char *l = (const char *)buf + pos;
    pos = end < len ? end + 1 : end;
    if (n > MC_SDP_MAX_LINE) return fail(e, MC_ETOOBIG, "line is longer than %d bytes.", MC_SDP_MAX_LINE);
    if (memchr(l, '\0', n)) return fail(e, MC_EPARSE, "line contains a NUL byte.");
    if (memchr(l, '\r', n)) return fail(e, MC_EPARSE, "line contains a stray carriage return.");
    while (n && (l[n - 1] == ' ' || l[n - 1] == '\t')) n--;
    if (n == 0) {
      if (e->line == 1) return fail(e, MC_EPARSE, "missing v= line.");
      continue; /* blank lines are tolerated */
    }
    /* RFC 8866 5: <type>=<value>, type a single character */
    if (n < 2 || l[1] != '=') return fail(e, MC_EPARSE, "line is not of the form <type>=<value>.");
    char type = l[0];
    span v = {l + 2, n - 2};
    if (e->line == 1) {
      if (type != 'v') return fail(e, MC_EPARSE, "missing v= line.");
      if (!span_eq(v, "0")) return fail(e, MC_EPARSE, "v= is not 0.");
      continue;
    }
    switch (type) {
    case 'v':
      return fail(e, MC_EPARSE, "v= appears more than once.");
    case 'o': {
      /* RFC 8866 5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
      if (m || seen_o) return fail(e, MC_EPARSE, "o= is misplaced or repeated.");
      span t[6], x;
      for (int i = 0; i < 6; i++)
        if (!next_tok(&v, &t[i])) return fail(e, MC_EPARSE, "o= needs six fields.");
      if (next_tok(&v, &x)) return fail(e, MC_EPARSE, "o= has more than six fields.");
      uint64_t dummy;
      if (!parse_u64(t[1], UINT64_MAX, &dummy) || !parse_u64(t[2], UINT64_MAX, &dummy))
        return fail(e, MC_EPARSE, "o= session id or version is not a number.");
      if ((rc = set_str(out->origin_user, sizeof out->origin_user, t[0], e, "o= username")) ||
          (rc = set_str(out->origin_sess_id, sizeof out->origin_sess_id, t[1], e, "o= sess-id")) ||
          (rc = set_str(out->origin_sess_version, sizeof out->origin_sess_version, t[2], e, "o= sess-version")) ||
          (rc = set_str(out->origin_nettype, sizeof out->origin_nettype, t[3], e, "o= nettype")) ||
          (rc = set_str(out->origin_addrtype, sizeof out->origin_addrtype, t[4], e, "o= addrtype")) ||
          (rc = set_str(out->origin_address, sizeof out->origin_address, t[5], e, "o= address")))
        return rc;
      seen_o = true;
      break;
    }
    case 's':
      if (m || seen_s) return fail(e, MC_EPARSE, "s= is misplaced or repeated.");
      if ((rc = set_str(out->session_name, sizeof out->session_name, v, e, "s= session name"))) return rc;
      seen_s = true;
      break;
    case 't': {
      if (m) return fail(e, MC_EPARSE, "t= appears inside a media section.");
      span a, b, x;
      uint64_t t0, t1;
      if (!next_tok(&v, &a) || !next_tok(&v, &b) || next_tok(&v, &x) || !parse_u64(a, UINT64_MAX, &t0) ||
          !parse_u64(b, UINT64_MAX, &t1))
        return fail(e, MC_EPARSE, "t= needs two numbers.");
      /* RFC 8866 5.9 allows several t= lines: the last one is kept */
      out->t_start = t0;
      out->t_stop = t1;
      seen_t = true;
      break;
    }
    case 'c':
      if ((rc = parse_conn(v, m ? &m->conn : &out->conn, e))) return rc;
      break;
    case 'm':
      if (!seen_o || !seen_s || !seen_t) return fail(e, MC_EPARSE, "m= before the o=, s= and t= lines.");
      if (out->media_count >= MC_SDP_MAX_MEDIA) return fail(e, MC_ETOOBIG, "more than %d m= sections.", MC_SDP_MAX_MEDIA);
      m = &out->media[out->media_count++];
      if ((rc = parse_mline(v, m, e))) return rc;
      break;
    case 'a': {
      /* RFC 8866 5.13: a=<attribute-name>[:<attribute-value>] */
      const char *colon = memchr(v.p, ':', v.n);
      span name = {v.p, colon ? (size_t)(colon - v.p) : v.n};
      span val = colon ? (span){colon + 1, v.n - name.n - 1} : (span){NULL, 0};
      if (!name.n) return fail(e, MC_EPARSE, "attribute has no name.");
      if (colon && !val.n) val.p = colon + 1; /* "a=x:" has an empty, present value */
      rc = m ? parse_media_attr(name, val, m, e) : parse_session_attr(name, val, out, e);
      if (rc) return rc;
      break;
    }
    default:
      break; /* i=, u=, e=, p=, b=, r=, z=, k= and unknown types: tolerated */
    }
  }
  if (e->line == 0) {
    e->line = 1;
    return fail(e, MC_EPARSE, "missing v= line.");
  }
  if (!seen_o || !seen_s || !seen_t) {
    return fail(e, MC_EPARSE, "the session lacks one of o=, s= or t=.");
  }
  return 0;
}

int mc_sdp_parse(const uint8_t *buf, size_t len, mc_sdp *out, int *err_line, char *why, size_t why_cap) {
  perr e = {0, why, why_cap};
  if (why && why_cap) why[0] = '\0';
  if (err_line) *err_line = 0;
  if (!out || (!buf && len)) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  int rc = parse_lines(buf, len, out, &e);
  if (rc) {
    if (err_line) *err_line = e.line;
    memset(out, 0, sizeof *out);
  }
  return rc;
}

typedef struct {
  char *out;
  size_t cap, len;
  bool overflow;
} wbuf;

static void w(wbuf *b, const char *fmt, ...) {
  if (b->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->out + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= b->cap - b->len) {
    b->overflow = true;
    return;
  }
  b->len += (size_t)n;
}

static void write_transport(wbuf *b, const mc_sdp_transport *t) {
  if (t->ice_ufrag[0]) w(b, "a=ice-ufrag:%s\r\n", t->ice_ufrag);
  if (t->ice_pwd[0]) w(b, "a=ice-pwd:%s\r\n", t->ice_pwd);
  if (t->ice_options[0]) w(b, "a=ice-options:%s\r\n", t->ice_options);
  if (t->has_fingerprint) {
    w(b, "a=fingerprint:%s ", t->fp_algorithm);
    for (size_t i = 0; i < t->fp_len && i < MC_SDP_MAX_FINGERPRINT; i++) w(b, i ? ":%02X" : "%02X", t->fp[i]);
    w(b, "\r\n");
  }
  if (t->setup > MC_SDP_SETUP_NONE && t->setup <= MC_SDP_SETUP_HOLDCONN) w(b, "a=setup:%s\r\n", setup_names[t->setup]);
}

static void write_conn(wbuf *b, const mc_sdp_conn *c) {
  if (c->present) w(b, "c=%s %s %s\r\n", c->nettype, c->addrtype, c->address);
}

static bool dir_ok(enum mc_sdp_dir d) { return d > MC_SDP_DIR_NONE && d <= MC_SDP_DIR_INACTIVE; }

static void write_media(wbuf *b, const mc_sdp_media *m) {
  w(b, "m=%s %u", m->media, (unsigned)m->port);
  if (m->port_count) w(b, "/%u", (unsigned)m->port_count);
  w(b, " %s", m->proto_text);
  for (int i = 0; i < m->fmt_count; i++) w(b, " %s", m->fmts[i].fmt);
  w(b, "\r\n");
  write_conn(b, &m->conn);
  write_transport(b, &m->transport);
  if (m->mid[0]) w(b, "a=mid:%s\r\n", m->mid);
  if (m->bundle_only) w(b, "a=bundle-only\r\n");
  if (m->extmap_allow_mixed) w(b, "a=extmap-allow-mixed\r\n");
  for (int i = 0; i < m->extmap_count; i++) {
    const mc_sdp_extmap *x = &m->extmaps[i];
    w(b, "a=extmap:%d", x->id);
    if (dir_ok(x->dir)) w(b, "/%s", dir_names[x->dir]);
    w(b, " %s", x->uri);
    if (x->attributes[0]) w(b, " %s", x->attributes);
    w(b, "\r\n");
  }
  if (dir_ok(m->dir)) w(b, "a=%s\r\n", dir_names[m->dir]);
  for (int i = 0; i < m->msid_count; i++) w(b, "a=msid:%s\r\n", m->msid[i]);
  if (m->rtcp_mux) w(b, "a=rtcp-mux\r\n");
  if (m->rtcp_rsize) w(b, "a=rtcp-rsize\r\n");
  for (int i = 0; i < m->rtcp_fb_all_count; i++) w(b, "a=rtcp-fb:* %s\r\n", m->rtcp_fb_all[i]);
  for (int i = 0; i < m->fmt_count; i++) {
    const mc_sdp_payload *p = &m->fmts[i];
    if (p->pt < 0 || payload_mut((mc_sdp_media *)m, p->pt) != p) continue; /* the parser fills the first only */
    if (p->has_rtpmap) {
      w(b, "a=rtpmap:%d %s/%u", p->pt, p->encoding, (unsigned)p->clock_rate);
      if (p->channels) w(b, "/%u", (unsigned)p->channels);
      w(b, "\r\n");
    }
    for (int j = 0; j < p->rtcp_fb_count; j++) w(b, "a=rtcp-fb:%d %s\r\n", p->pt, p->rtcp_fb[j]);
    if (p->has_fmtp) w(b, "a=fmtp:%d %s\r\n", p->pt, p->fmtp);
  }
  if (m->has_sctp_port) w(b, "a=sctp-port:%u\r\n", (unsigned)m->sctp_port);
  if (m->has_max_message_size) w(b, "a=max-message-size:%llu\r\n", (unsigned long long)m->max_message_size);
  if (m->has_sctpmap) {
    w(b, "a=sctpmap:%u %s", (unsigned)m->sctpmap_port, m->sctpmap_app);
    if (m->has_sctpmap_value) w(b, " %llu", (unsigned long long)m->sctpmap_value);
    w(b, "\r\n");
  }
  for (int i = 0; i < m->ssrc_group_count; i++) {
    const mc_sdp_ssrc_group *g = &m->ssrc_groups[i];
    w(b, "a=ssrc-group:%s", g->semantics);
    for (int j = 0; j < g->count; j++) w(b, " %lu", (unsigned long)g->ssrcs[j]);
    w(b, "\r\n");
  }
  for (int i = 0; i < m->ssrc_count; i++) {
    const mc_sdp_ssrc *s = &m->ssrcs[i];
    if (s->cname[0]) w(b, "a=ssrc:%lu cname:%s\r\n", (unsigned long)s->ssrc, s->cname);
    if (s->msid[0]) w(b, "a=ssrc:%lu msid:%s\r\n", (unsigned long)s->ssrc, s->msid);
  }
  for (int i = 0; i < m->candidate_count; i++) w(b, "a=candidate:%s\r\n", m->candidates[i]);
  if (m->end_of_candidates) w(b, "a=end-of-candidates\r\n");
}

/* A hand-built model may carry any counts: never index past the arrays. */
bool sdp_model_counts_ok(const mc_sdp *s) {
  if (s->media_count < 0 || s->media_count > MC_SDP_MAX_MEDIA || s->group_count < 0 || s->group_count > MC_SDP_MAX_GROUPS)
    return false;
  for (int i = 0; i < s->group_count; i++)
    if (s->groups[i].count < 0 || s->groups[i].count > MC_SDP_MAX_GROUP_MIDS) return false;
  for (int i = 0; i < s->media_count; i++) {
    const mc_sdp_media *m = &s->media[i];
    if (m->fmt_count < 0 || m->fmt_count > MC_SDP_MAX_FMT || m->rtcp_fb_all_count < 0 ||
        m->rtcp_fb_all_count > MC_SDP_MAX_RTCP_FB || m->msid_count < 0 || m->msid_count > MC_SDP_MAX_MSID ||
        m->extmap_count < 0 || m->extmap_count > MC_SDP_MAX_EXTMAP || m->ssrc_count < 0 ||
        m->ssrc_count > MC_SDP_MAX_SSRC || m->ssrc_group_count < 0 || m->ssrc_group_count > MC_SDP_MAX_SSRC_GROUP ||
        m->candidate_count < 0 || m->candidate_count > MC_SDP_MAX_CANDIDATES)
      return false;
    for (int j = 0; j < m->fmt_count; j++)
      if (m->fmts[j].rtcp_fb_count < 0 || m->fmts[j].rtcp_fb_count > MC_SDP_MAX_RTCP_FB) return false;
    for (int j = 0; j < m->ssrc_group_count; j++)
      if (m->ssrc_groups[j].count < 0 || m->ssrc_groups[j].count > MC_SDP_MAX_GROUP_SSRCS) return false;
  }
  return true;
}

int mc_sdp_write(const mc_sdp *s, char *out, size_t cap, size_t *out_len) {
  if (!s || !out || cap == 0) return MC_EINVAL;
  if (!sdp_model_counts_ok(s)) return MC_EINVAL;
  wbuf b = {out, cap, 0, false};
  out[0] = '\0';
  /* RFC 8866 5: the session lines come in the order v, o, s, c, t */
  w(&b, "v=0\r\no=%s %s %s %s %s %s\r\ns=%s\r\n", s->origin_user, s->origin_sess_id, s->origin_sess_version,
    s->origin_nettype, s->origin_addrtype, s->origin_address, s->session_name);
  write_conn(&b, &s->conn);
  w(&b, "t=%llu %llu\r\n", (unsigned long long)s->t_start, (unsigned long long)s->t_stop);
  for (int i = 0; i < s->group_count; i++) {
    w(&b, "a=group:%s", s->groups[i].semantics);
    for (int j = 0; j < s->groups[i].count && j < MC_SDP_MAX_GROUP_MIDS; j++) w(&b, " %s", s->groups[i].mids[j]);
    w(&b, "\r\n");
  }
  if (s->extmap_allow_mixed) w(&b, "a=extmap-allow-mixed\r\n");
  if (s->has_msid_semantic) w(&b, "a=msid-semantic:%s\r\n", s->msid_semantic);
  write_transport(&b, &s->transport);
  if (dir_ok(s->dir)) w(&b, "a=%s\r\n", dir_names[s->dir]);
  for (int i = 0; i < s->media_count; i++) write_media(&b, &s->media[i]);
  if (b.overflow) {
    out[0] = '\0';
    return MC_ETOOBIG;
  }
  if (out_len) *out_len = b.len;
  return 0;
}

bool mc_sdp_equal(const mc_sdp *a, const mc_sdp *b) { return memcmp(a, b, sizeof *a) == 0; }

const mc_sdp_payload *mc_sdp_payload_find(const mc_sdp_media *m, int pt) {
  return payload_mut((mc_sdp_media *)m, pt);
}

const mc_sdp_media *mc_sdp_media_find(const mc_sdp *s, const char *mid) {
  for (int i = 0; i < s->media_count; i++)
    if (strcmp(s->media[i].mid, mid) == 0) return &s->media[i];
  return NULL;
}
