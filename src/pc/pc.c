/* pc: the peer connection. The only place that knows every layer: JSEP
 * decides, ICE finds the path, DTLS secures it, SRTP and SCTP ride on it.
 * Packet path (ARCHITECTURE.md): ICE datagram -> RFC 7983 demux -> DTLS
 * (-> SCTP -> data channels) or SRTP (-> RTP, from issue 5 on). */
#include "medcall/pc.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "dtls/dtls.h"
#include "ice/ice.h"
#include "sctp/sctp.h"
#include "sdp/sdp.h"
#include "srtp/srtp.h"
#include "util/util.h"
#include "pc/pc_private.h"

#define LOG "pc"

void mc_free(void *p) { free(p); }

int mc_global_init(void) { return mc_srtp_init(); }

const char *mc_pc_state_name(enum mc_pc_state s) {
  switch (s) {
  case MC_PC_STATE_NEW: return "new";
  case MC_PC_STATE_CONNECTING: return "connecting";
  case MC_PC_STATE_CONNECTED: return "connected";
  case MC_PC_STATE_DISCONNECTED: return "disconnected";
  case MC_PC_STATE_FAILED: return "failed";
  case MC_PC_STATE_CLOSED: return "closed";
  }
  return "unknown";
}

static void set_error(mc_pc *pc, const char *sentence) {
  mc_strcpy(pc->last_error, sizeof pc->last_error, sentence);
}

static void teardown(mc_pc *pc);
static void really_free(mc_pc *pc);

void pc_enter(mc_pc *pc) { pc->depth++; }

void pc_leave(mc_pc *pc) {
  if (--pc->depth > 0) return;
  if (pc->teardown_pending) {
    pc->teardown_pending = false;
    teardown(pc);
  }
  if (pc->free_pending) really_free(pc);
}

static void set_state(mc_pc *pc, enum mc_pc_state s) {
  if (pc->state == s) return;
  if (pc->state == MC_PC_STATE_CLOSED) return;
  /* Failed is final when DTLS failed; an ICE failure recovers through an
   * ICE restart (W3C webrtc-pc restartIce), and update_state keeps saying
   * failed as long as either transport is failed. */
  if (pc->state == MC_PC_STATE_FAILED && s != MC_PC_STATE_CLOSED &&
      (!pc->dtls || mc_dtls_state(pc->dtls) != MC_DTLS_STATE_CONNECTED))
    return;
  MC_LOGI(LOG, "state from=%s to=%s", mc_pc_state_name(pc->state), mc_pc_state_name(s));
  pc->state = s;
  if (pc->cbs.on_connection_state && !pc->free_pending) pc->cbs.on_connection_state(pc, s, pc->user);
}

/* RTCPeerConnectionState from the ICE and DTLS transport states (W3C
 * webrtc-pc 4.3.3). */
static void update_state(mc_pc *pc) {
  if (pc->closed) return;
  enum mc_ice_state is = pc->ice ? mc_ice_agent_state(pc->ice) : MC_ICE_STATE_NEW;
  enum mc_dtls_state ds = pc->dtls ? mc_dtls_state(pc->dtls) : MC_DTLS_STATE_NEW;
  enum mc_pc_state s;
  if (is == MC_ICE_STATE_FAILED || ds == MC_DTLS_STATE_FAILED) s = MC_PC_STATE_FAILED;
  else if (ds == MC_DTLS_STATE_CLOSED) s = MC_PC_STATE_CLOSED;
  else if (is == MC_ICE_STATE_DISCONNECTED) s = MC_PC_STATE_DISCONNECTED;
  else if (ds == MC_DTLS_STATE_CONNECTED && (is == MC_ICE_STATE_CONNECTED || is == MC_ICE_STATE_COMPLETED))
    s = MC_PC_STATE_CONNECTED;
  else if (is == MC_ICE_STATE_NEW && ds == MC_DTLS_STATE_NEW) s = MC_PC_STATE_NEW;
  else s = MC_PC_STATE_CONNECTING;
  set_state(pc, s);
}

/* ---- DTLS timers ---- */

static void on_dtls_timer(uv_timer_t *t);

static void rearm_dtls_timer(mc_pc *pc) {
  if (!pc->dtls || pc->closed) {
    uv_timer_stop(&pc->dtls_timer);
    return;
  }
  int64_t t = mc_dtls_timeout_ms(pc->dtls);
  if (t < 0) uv_timer_stop(&pc->dtls_timer);
  else uv_timer_start(&pc->dtls_timer, on_dtls_timer, (uint64_t)t, 0);
}

static void on_dtls_timer(uv_timer_t *t) {
  mc_pc *pc = t->data;
  if (!pc->dtls) return;
  pc_enter(pc);
  mc_dtls_handle_timeout(pc->dtls);
  rearm_dtls_timer(pc);
  pc_leave(pc);
}

/* usrsctp's timers are process-wide: every peer connection's tick advances
 * them by the time since the last tick of any. */
static uint64_t sctp_last_tick_ms;

static void on_sctp_timer(uv_timer_t *t) {
  mc_pc *pc = t->data;
  pc_enter(pc);
  uint64_t now = mc_now_ms();
  uint32_t elapsed = sctp_last_tick_ms ? (uint32_t)MC_MIN(now - sctp_last_tick_ms, 1000u) : MC_SCTP_TICK_MS;
  if (elapsed > 0) {
    sctp_last_tick_ms = now;
    mc_sctp_handle_timers(elapsed);
  }
  pc_leave(pc);
}

/* ---- data channels ---- */

static struct pc_dc *dc_by_sid(mc_pc *pc, uint16_t sid) {
  for (int i = 0; i < PC_MAX_DC; i++)
    if (pc->dcs[i].used && pc->dcs[i].sid == (int)sid) return &pc->dcs[i];
  return NULL;
}

static int dc_alloc(mc_pc *pc) {
  for (int i = 0; i < PC_MAX_DC; i++)
    if (!pc->dcs[i].used) {
      memset(&pc->dcs[i], 0, sizeof pc->dcs[i]);
      pc->dcs[i].used = true;
      pc->dcs[i].sid = -1;
      return i;
    }
  return -1;
}

static void dc_request(mc_pc *pc, int ch) {
  struct pc_dc *d = &pc->dcs[ch];
  if (d->requested || d->closed || !pc->sctp || mc_sctp_state(pc->sctp) != MC_SCTP_STATE_CONNECTED) return;
  struct mc_dc_init init = {
      .label = d->label,
      .protocol = d->protocol,
      .ordered = d->cfg.ordered,
      .max_retransmits = d->cfg.max_retransmits,
      .max_packet_lifetime = d->cfg.max_packet_lifetime,
      .negotiated = d->cfg.negotiated,
      .id = d->cfg.id,
  };
  uint16_t sid = 0;
  int rc = mc_sctp_open_channel(pc->sctp, &init, &sid);
  d->requested = true;
  if (rc != 0) {
    MC_LOGW(LOG, "data channel open failed label_len=%zu err=%s", strlen(d->label), mc_strerror(rc));
    d->closed = true;
    if (pc->cbs.on_dc_close) pc->cbs.on_dc_close(pc, ch, pc->user);
    return;
  }
  d->sid = sid;
  if (d->low_threshold) mc_sctp_set_buffered_amount_low_threshold(pc->sctp, sid, d->low_threshold);
}

static void sctp_send_cb(const uint8_t *data, size_t len, void *user) {
  mc_pc *pc = user;
  if (pc->dtls && !pc->closed) {
    mc_dtls_send(pc->dtls, data, len);
    rearm_dtls_timer(pc);
  }
}

static void sctp_state_cb(enum mc_sctp_state state, void *user) {
  mc_pc *pc = user;
  MC_LOGI(LOG, "sctp state=%d", (int)state);
  if (state != MC_SCTP_STATE_CONNECTED) return;
  for (int i = 0; i < PC_MAX_DC; i++)
    if (pc->dcs[i].used && !pc->dcs[i].requested) dc_request(pc, i);
}

static void sctp_channel_open_cb(uint16_t id, const char *label, const char *protocol, bool remote, void *user) {
  mc_pc *pc = user;
  struct pc_dc *d = dc_by_sid(pc, id);
  int ch;
  if (!d && remote) {
    ch = dc_alloc(pc);
    if (ch < 0) {
      MC_LOGW(LOG, "too many data channels: closing sid=%u", id);
      mc_sctp_close_channel(pc->sctp, id);
      return;
    }
    d = &pc->dcs[ch];
    d->sid = id;
    d->requested = true;
    d->cfg = (struct mc_dc_config)MC_DC_CONFIG_DEFAULT;
    mc_strcpy(d->label, sizeof d->label, label ? label : "");
    mc_strcpy(d->protocol, sizeof d->protocol, protocol ? protocol : "");
    d->cfg.label = d->label;
    d->cfg.protocol = d->protocol;
    if (pc->cbs.on_data_channel) pc->cbs.on_data_channel(pc, ch, d->label, d->protocol, pc->user);
  } else if (!d) {
    return;
  }
  ch = (int)(d - pc->dcs);
  if (d->open || d->closed) return;
  d->open = true;
  MC_LOGI(LOG, "data channel open ch=%d sid=%u remote=%d", ch, id, (int)remote);
  if (pc->cbs.on_dc_open) pc->cbs.on_dc_open(pc, ch, pc->user);
}

static void sctp_message_cb(uint16_t id, const uint8_t *data, size_t len, bool binary, void *user) {
  mc_pc *pc = user;
  struct pc_dc *d = dc_by_sid(pc, id);
  if (!d || d->closed) return;
  pc->dc_msgs_recv++;
  pc->dc_bytes_recv += len;
  if (pc->cbs.on_dc_message) pc->cbs.on_dc_message(pc, (int)(d - pc->dcs), data, len, binary, pc->user);
}

static void sctp_low_cb(uint16_t id, void *user) {
  mc_pc *pc = user;
  struct pc_dc *d = dc_by_sid(pc, id);
  if (d && !d->closed && pc->cbs.on_dc_buffered_amount_low)
    pc->cbs.on_dc_buffered_amount_low(pc, (int)(d - pc->dcs), pc->user);
}

static void sctp_closed_cb(uint16_t id, void *user) {
  mc_pc *pc = user;
  struct pc_dc *d = dc_by_sid(pc, id);
  if (!d || d->closed) return;
  d->closed = true;
  d->open = false;
  int ch = (int)(d - pc->dcs);
  MC_LOGI(LOG, "data channel closed ch=%d sid=%u", ch, id);
  if (pc->cbs.on_dc_close) pc->cbs.on_dc_close(pc, ch, pc->user);
  d->used = false;
}

/* ---- DTLS ---- */

void pc_send_datagram(mc_pc *pc, const uint8_t *data, size_t len) {
  if (pc->ice && !pc->closed) mc_ice_agent_send(pc->ice, data, len);
}

static void dtls_send_cb(const uint8_t *data, size_t len, void *user) { pc_send_datagram(user, data, len); }

static const mc_jsep_media *data_media(mc_pc *pc) {
  int n = pc->jsep ? mc_jsep_media_count(pc->jsep) : 0;
  for (int i = 0; i < n; i++) {
    const mc_jsep_media *m = mc_jsep_media_at(pc->jsep, i);
    /* A data m-line added since the last exchange has no mid yet. */
    if (m && m->kind == MC_MEDIA_DATA && !m->rejected && m->mid[0]) return m;
  }
  return NULL;
}

static void start_sctp(mc_pc *pc) {
  const mc_jsep_media *m = data_media(pc);
  if (!m || pc->sctp) return;
  const struct mc_jsep_transport *t = NULL;
  mc_jsep_transport(pc->jsep, &t);
  struct mc_sctp_config sc = {
      /* the ports both descriptions named, in whichever form (RFC 8841 5, or
       * the DTLS/SCTP format): an INIT to another port meets no endpoint */
      .local_port = m->local_sctp_port ? m->local_sctp_port : MC_SCTP_DEFAULT_PORT,
      .remote_port = m->remote_sctp_port ? m->remote_sctp_port : MC_SCTP_DEFAULT_PORT,
      .is_dtls_client = t ? t->dtls_client : false,
      .remote_max_message_size = m->remote_max_message_size,
  };
  pc->remote_max_message = m->remote_max_message_size;
  struct mc_sctp_callbacks cb = {
      .send = sctp_send_cb,
      .on_state = sctp_state_cb,
      .on_channel_open = sctp_channel_open_cb,
      .on_message = sctp_message_cb,
      .on_buffered_amount_low = sctp_low_cb,
      .on_channel_closed = sctp_closed_cb,
  };
  int rc = mc_sctp_new(&sc, &cb, pc, &pc->sctp);
  if (rc != 0) {
    set_error(pc, mc_tr("could not start the data channel transport (SCTP)"));
    MC_LOGE(LOG, "sctp start failed err=%s", mc_strerror(rc));
    return;
  }
  MC_LOGI(LOG, "sctp starting local_port=%u remote_port=%u", (unsigned)sc.local_port, (unsigned)sc.remote_port);
  uv_timer_start(&pc->sctp_timer, on_sctp_timer, MC_SCTP_TICK_MS, MC_SCTP_TICK_MS);
  mc_sctp_start(pc->sctp);
}

static void dtls_connected_cb(void *user) {
  mc_pc *pc = user;
  pc->t_dtls_ms = mc_now_ms() - pc->t_start_ms;
  struct mc_dtls_srtp_keys keys;
  if (mc_dtls_srtp_keys(pc->dtls, &keys) == 0) {
    if (mc_srtp_new(&keys, &pc->srtp) != 0) MC_LOGW(LOG, "srtp session could not be created");
    MC_LOGI(LOG, "dtls connected profile=%s dtls_ms=%llu", mc_dtls_srtp_profile_name(keys.profile),
            (unsigned long long)pc->t_dtls_ms);
    memset(&keys, 0, sizeof keys);
  } else {
    MC_LOGI(LOG, "dtls connected without srtp dtls_ms=%llu", (unsigned long long)pc->t_dtls_ms);
  }
  start_sctp(pc);
  if (pc->srtp) pc_media_start(pc);
  update_state(pc);
}

static void dtls_data_cb(const uint8_t *data, size_t len, void *user) {
  mc_pc *pc = user;
  if (pc->sctp) mc_sctp_receive(pc->sctp, data, len);
}

static void dtls_closed_cb(void *user) {
  mc_pc *pc = user;
  MC_LOGI(LOG, "peer closed dtls");
  set_error(pc, mc_tr("the other side hung up (DTLS close_notify)"));
  update_state(pc);
}

static void dtls_failed_cb(int err, const char *sentence, void *user) {
  mc_pc *pc = user;
  MC_LOGE(LOG, "dtls failed err=%s: %s", mc_strerror(err), sentence);
  set_error(pc, sentence);
  update_state(pc);
}

static void start_dtls(mc_pc *pc) {
  const struct mc_jsep_transport *t = NULL;
  if (pc->dtls || mc_jsep_transport(pc->jsep, &t) != 0 || !t) return;
  struct mc_dtls_config dc = {
      .role = t->dtls_client ? MC_DTLS_CLIENT : MC_DTLS_SERVER,
      .cert = pc->cert,
      .remote_fp_algorithm = t->remote_fp_algorithm,
      .remote_fp = t->remote_fp,
      .remote_fp_len = t->remote_fp_len,
      .mtu = MC_DTLS_DEFAULT_MTU,
      .use_srtp = true,
  };
  struct mc_dtls_callbacks cb = {
      .send = dtls_send_cb,
      .on_connected = dtls_connected_cb,
      .on_data = dtls_data_cb,
      .on_closed = dtls_closed_cb,
      .on_failed = dtls_failed_cb,
  };
  int rc = mc_dtls_new(&dc, &cb, pc, &pc->dtls);
  if (rc != 0) {
    set_error(pc, mc_tr("could not start DTLS"));
    MC_LOGE(LOG, "dtls new failed err=%s", mc_strerror(rc));
    return;
  }
  MC_LOGI(LOG, "dtls start role=%s early=%d", t->dtls_client ? "client" : "server", pc->nearly);
  mc_dtls_start(pc->dtls);
  for (int i = 0; i < pc->nearly && pc->dtls; i++) mc_dtls_receive(pc->dtls, pc->early[i].data, pc->early[i].len);
  pc->nearly = 0;
  rearm_dtls_timer(pc);
  update_state(pc);
}

/* ---- ICE ---- */

static void on_cand_timer(uv_timer_t *t) {
  mc_pc *pc = t->data;
  pc_enter(pc);
  while (pc->cand_head && !pc->closed) {
    struct pc_cand *c = pc->cand_head;
    pc->cand_head = c->next;
    if (!pc->cand_head) pc->cand_tail = &pc->cand_head;
    if (pc->cbs.on_ice_candidate) pc->cbs.on_ice_candidate(pc, pc->first_mid, c->line, pc->user);
    free(c);
  }
  pc_leave(pc);
}

static void queue_candidate(mc_pc *pc, const char *line) {
  struct pc_cand *c = calloc(1, sizeof *c);
  if (!c) return;
  mc_strcpy(c->line, sizeof c->line, line);
  *pc->cand_tail = c;
  pc->cand_tail = &c->next;
  uv_timer_start(&pc->cand_timer, on_cand_timer, 0, 0);
}

static void ice_candidate_cb(mc_ice_agent *a, const mc_ice_candidate *cand, const char *line, void *user) {
  (void)a;
  (void)cand;
  mc_pc *pc = user;
  if (!pc->closed) queue_candidate(pc, line);
}

static void ice_gathering_done_cb(mc_ice_agent *a, void *user) {
  (void)a;
  mc_pc *pc = user;
  if (!pc->closed) queue_candidate(pc, "");
}

static void ice_state_cb(mc_ice_agent *a, enum mc_ice_state state, void *user) {
  (void)a;
  mc_pc *pc = user;
  pc_enter(pc);
  if ((state == MC_ICE_STATE_CONNECTED || state == MC_ICE_STATE_COMPLETED) && !pc->t_ice_ms)
    pc->t_ice_ms = mc_now_ms() - pc->t_start_ms;
  if (state == MC_ICE_STATE_FAILED && pc->server_problem[0]) {
    char s[sizeof pc->last_error];
    snprintf(s, sizeof s, mc_tr("no network path to the other side worked (ICE failed); %s"), pc->server_problem);
    set_error(pc, s);
  } else if (state == MC_ICE_STATE_FAILED) {
    set_error(pc, mc_tr("no network path to the other side worked (ICE failed); a TURN relay may be needed"));
  }
  update_state(pc);
  pc_leave(pc);
}

static void ice_selected_cb(mc_ice_agent *a, const mc_ice_candidate *local, const mc_ice_candidate *remote,
                            void *user) {
  (void)a;
  mc_pc *pc = user;
  pc_enter(pc);
  MC_LOGI(LOG, "selected pair local=%s remote=%s", mc_ice_cand_type_name(local->type),
          mc_ice_cand_type_name(remote->type));
  if (!pc->dtls && !pc->closed) start_dtls(pc);
  pc_leave(pc);
}

/* RFC 8445 12.1 lets data flow on a valid pair before nomination: DTLS
 * starts on the first one, so a ClientHello that came in on a pair the
 * controlling agent has not nominated (yet) is answered at once, on that
 * pair. Chromium does the same (DTLS starts when ICE is writable). */
static void ice_writable_cb(mc_ice_agent *a, void *user) {
  (void)a;
  mc_pc *pc = user;
  pc_enter(pc);
  MC_LOGI(LOG, "ice writable before selection");
  if (!pc->dtls && !pc->closed) start_dtls(pc);
  pc_leave(pc);
}

static void ice_data_cb(mc_ice_agent *a, const uint8_t *data, size_t len, void *user) {
  (void)a;
  mc_pc *pc = user;
  if (pc->closed) return;
  pc_enter(pc);
  switch (mc_demux_classify(data, len)) {
  case MC_DEMUX_DTLS:
    if (pc->dtls) {
      mc_dtls_receive(pc->dtls, data, len);
      rearm_dtls_timer(pc);
    } else if (pc->nearly < PC_EARLY_DTLS && len <= sizeof pc->early[0].data) {
      memcpy(pc->early[pc->nearly].data, data, len);
      pc->early[pc->nearly].len = len;
      pc->nearly++;
    }
    break;
  case MC_DEMUX_RTP:
    pc_media_receive(pc, data, len);
    break;
  default:
    break;
  }
  pc_leave(pc);
}

static void ice_server_error_cb(mc_ice_agent *a, const char *url, const char *sentence, void *user) {
  (void)a;
  (void)url;
  mc_pc *pc = user;
  MC_LOGW(LOG, "ice server problem: %s", sentence);
  mc_strcpy(pc->server_problem, sizeof pc->server_problem, sentence);
}

/* A fresh track to send on a new transceiver: random SSRCs (an RTX one for
 * video), the connection's msid stream and a new track id, which are token
 * characters (RFC 8830 2): hex, not ICE characters. */
static void new_local_track(const mc_pc *pc, enum mc_media_kind kind, struct mc_jsep_track *tr) {
  uint8_t b[8];
  memset(tr, 0, sizeof *tr);
  tr->ssrc = mc_random_u32() | 1;
  if (kind == MC_MEDIA_VIDEO) tr->rtx_ssrc = mc_random_u32() | 1;
  mc_strcpy(tr->stream_id, sizeof tr->stream_id, pc->stream_id);
  mc_random_bytes(b, sizeof b);
  mc_hex_encode(b, sizeof b, tr->track_id, sizeof tr->track_id);
}

static int ensure_session(mc_pc *pc, enum mc_ice_role role) {
  if (pc->ice) return 0;
  struct mc_ice_server servers[16];
  size_t n = MC_MIN(pc->nservers, MC_ARRAY_LEN(servers));
  for (size_t i = 0; i < n; i++) {
    servers[i].url = pc->servers[i].url;
    servers[i].username = pc->servers[i].username;
    servers[i].credential = pc->servers[i].credential;
  }
  struct mc_ice_config ic = {
      .role = role,
      .servers = servers,
      .server_count = n,
      .insecure = pc->cfg.insecure_turns,
      .relay_only = pc->cfg.relay_only,
      .include_loopback = pc->cfg.include_loopback,
      .family = AF_UNSPEC,
      /* ICE-TCP host candidates: a network that blocks UDP and has no TURN
       * server still connects where TCP gets through (RFC 6544); they rank
       * below every UDP candidate but relays, so UDP wins when it works. */
      .tcp = true,
  };
  mc_addr lo4;
  if (pc->cfg.loopback_only && mc_addr_parse("127.0.0.1", 0, &lo4) == 0) {
    ic.bind_addrs = &lo4;
    ic.bind_addr_count = 1;
    ic.include_loopback = true;
    ic.family = AF_INET;
  }
  struct mc_ice_callbacks cb = {
      .on_candidate = ice_candidate_cb,
      .on_gathering_done = ice_gathering_done_cb,
      .on_state = ice_state_cb,
      .on_selected_pair = ice_selected_cb,
      .on_writable = ice_writable_cb,
      .on_data = ice_data_cb,
      .on_server_error = ice_server_error_cb,
  };
  int rc = mc_ice_agent_new(pc->loop, &ic, &cb, pc, &pc->ice);
  if (rc != 0) {
    set_error(pc, mc_tr("could not start ICE"));
    return rc;
  }
  char ufrag[MC_ICE_UFRAG_MAX + 1], pwd[MC_ICE_PWD_MAX + 1];
  mc_ice_agent_get_local_credentials(pc->ice, ufrag, pwd);
  struct mc_jsep_config jc = {
      .ice_ufrag = ufrag,
      .ice_pwd = pwd,
      .fingerprint = pc->fp,
      .fingerprint_len = sizeof pc->fp,
      .remb_only = pc->cfg.remb_only,
  };
  rc = mc_jsep_new(&jc, &pc->jsep);
  memset(pwd, 0, sizeof pwd);
  if (rc != 0) {
    set_error(pc, mc_tr("could not start the session description (JSEP)"));
    return rc;
  }
  for (int i = 0; i < pc->npending; i++) {
    struct mc_jsep_track tr;
    new_local_track(pc, (enum mc_media_kind)pc->pending_kinds[i], &tr);
    rc = mc_jsep_add_transceiver(pc->jsep, (enum mc_media_kind)pc->pending_kinds[i],
                                 pc->pending_send[i] ? &tr : NULL, NULL);
    if (rc != 0) {
      set_error(pc, mc_tr("could not add a media track to the session description"));
      return rc;
    }
  }
  pc->npending = 0;
  if (pc->want_data) mc_jsep_add_data(pc->jsep);
  return 0;
}

/* ---- lifecycle ---- */

static void on_handle_closed(uv_handle_t *h) {
  mc_pc *pc = h->data;
  if (--pc->open_handles == 0) free(pc);
}

int mc_pc_new(const struct mc_pc_config *config, const struct mc_pc_callbacks *cbs, void *user, mc_pc **out) {
  if (!config || !config->loop || !out) return MC_EINVAL;
  *out = NULL;
  mc_pc *pc = calloc(1, sizeof *pc);
  if (!pc) return MC_ENOMEM;
  int rc = MC_ENOMEM;
  pc->loop = config->loop;
  pc->cfg = *config;
  if (cbs) pc->cbs = *cbs;
  pc->user = user;
  uint8_t sid[8];
  mc_random_bytes(sid, sizeof sid);
  mc_hex_encode(sid, sizeof sid, pc->stream_id, sizeof pc->stream_id);
  pc->cfg.ice_servers = NULL;
  if (config->ice_server_count) {
    pc->servers = calloc(config->ice_server_count, sizeof *pc->servers);
    if (!pc->servers) goto fail;
    for (size_t i = 0; i < config->ice_server_count; i++) {
      const struct mc_pc_ice_server *s = &config->ice_servers[i];
      pc->servers[i].url = s->url ? strdup(s->url) : NULL;
      pc->servers[i].username = s->username ? strdup(s->username) : NULL;
      pc->servers[i].credential = s->credential ? strdup(s->credential) : NULL;
      pc->nservers++;
    }
  }
  mc_global_init();
  rc = mc_dtls_cert_generate(&pc->cert);
  if (rc != 0) goto fail;
  rc = mc_dtls_cert_fingerprint(pc->cert, pc->fp);
  if (rc != 0) goto fail;
  uv_timer_init(pc->loop, &pc->dtls_timer);
  uv_timer_init(pc->loop, &pc->sctp_timer);
  uv_timer_init(pc->loop, &pc->cand_timer);
  pc->dtls_timer.data = pc->sctp_timer.data = pc->cand_timer.data = pc;
  pc->cand_tail = &pc->cand_head;
  pc->open_handles = 3;
  pc->state = MC_PC_STATE_NEW;
  *out = pc;
  return 0;
fail:
  pc->free_pending = true;
  teardown(pc);
  for (size_t i = 0; i < pc->nservers; i++) {
    free((char *)pc->servers[i].url);
    free((char *)pc->servers[i].username);
    free((char *)pc->servers[i].credential);
  }
  free(pc->servers);
  free(pc);
  return rc;
}

/* Stops every layer; safe to call twice. */
static void teardown(mc_pc *pc) {
  pc_media_free(pc);
  if (pc->sctp) {
    mc_sctp_free(pc->sctp);
    pc->sctp = NULL;
  }
  if (pc->open_handles) {
    uv_timer_stop(&pc->sctp_timer);
    uv_timer_stop(&pc->dtls_timer);
    uv_timer_stop(&pc->cand_timer);
  }
  while (pc->cand_head) {
    struct pc_cand *c = pc->cand_head;
    pc->cand_head = c->next;
    free(c);
  }
  pc->cand_tail = &pc->cand_head;
  if (pc->dtls) {
    mc_dtls_free(pc->dtls);
    pc->dtls = NULL;
  }
  if (pc->srtp) {
    mc_srtp_free(pc->srtp);
    pc->srtp = NULL;
  }
  if (pc->ice) {
    mc_ice_agent_free(pc->ice);
    pc->ice = NULL;
  }
  if (pc->jsep) {
    mc_jsep_free(pc->jsep);
    pc->jsep = NULL;
  }
  if (pc->cert) {
    mc_dtls_cert_free(pc->cert);
    pc->cert = NULL;
  }
}

void mc_pc_close(mc_pc *pc) {
  if (!pc || pc->closed) return;
  MC_LOGI(LOG, "close");
  pc_enter(pc);
  if (pc->sctp) {
    /* Its ABORT goes down through DTLS, so SCTP goes first. */
    uv_timer_stop(&pc->sctp_timer);
    mc_sctp_free(pc->sctp);
    pc->sctp = NULL;
  }
  if (pc->dtls) {
    /* close_notify goes out now, while ICE still has the pair. */
    mc_dtls_close(pc->dtls);
  }
  set_state(pc, MC_PC_STATE_CLOSED);
  pc->closed = true;
  pc->teardown_pending = true;
  pc_leave(pc);
}

static void really_free(mc_pc *pc) {
  pc->free_pending = false;
  teardown(pc);
  for (size_t i = 0; i < pc->nservers; i++) {
    free((char *)pc->servers[i].url);
    free((char *)pc->servers[i].username);
    if (pc->servers[i].credential) {
      memset((char *)pc->servers[i].credential, 0, strlen(pc->servers[i].credential));
      free((char *)pc->servers[i].credential);
    }
  }
  free(pc->servers);
  pc->servers = NULL;
  pc->nservers = 0;
  uv_close((uv_handle_t *)&pc->dtls_timer, on_handle_closed);
  uv_close((uv_handle_t *)&pc->sctp_timer, on_handle_closed);
  uv_close((uv_handle_t *)&pc->cand_timer, on_handle_closed);
}

void mc_pc_free(mc_pc *pc) {
  if (!pc) return;
  pc->cbs = (struct mc_pc_callbacks){0};
  mc_pc_close(pc);
  if (pc->free_pending) return;
  pc->free_pending = true;
  if (pc->depth == 0) really_free(pc);
}

/* ---- descriptions ---- */

static int write_sdp(mc_pc *pc, const mc_sdp *m, char **out) {
  char *buf = malloc(PC_SDP_CAP);
  if (!buf) return MC_ENOMEM;
  int rc = mc_sdp_write(m, buf, PC_SDP_CAP, NULL);
  if (rc != 0) {
    free(buf);
    set_error(pc, mc_tr("the session description did not fit"));
    return rc;
  }
  *out = buf;
  return 0;
}

/* The mid candidates are signaled with: any m-line in the BUNDLE group
 * names the one transport; take the first negotiated one. */
static void remember_first_mid(mc_pc *pc) {
  int n = mc_jsep_media_count(pc->jsep);
  for (int i = 0; i < n; i++) {
    const mc_jsep_media *m = mc_jsep_media_at(pc->jsep, i);
    if (m && m->mid[0] && !m->rejected) {
      mc_strcpy(pc->first_mid, sizeof pc->first_mid, m->mid);
      return;
    }
  }
}

int mc_pc_add_transceiver(mc_pc *pc, enum mc_pc_kind kind, bool send, mc_pc_track *out) {
  if (!pc || (kind != MC_PC_AUDIO && kind != MC_PC_VIDEO)) return MC_EINVAL;
  if (pc->closed) return MC_ECLOSED;
  enum mc_media_kind mk = kind == MC_PC_AUDIO ? MC_MEDIA_AUDIO : MC_MEDIA_VIDEO;
  if (!pc->jsep) {
    if (pc->npending >= PC_MAX_TRANSCEIVERS) return MC_ETOOBIG;
    pc->pending_kinds[pc->npending] = mk;
    pc->pending_send[pc->npending] = send;
    /* ensure_session adds them first, in this order: their indices. */
    if (out) *out = pc->npending;
    pc->npending++;
    return 0;
  }
  struct mc_jsep_track tr;
  new_local_track(pc, mk, &tr);
  int index = -1;
  int rc = mc_jsep_add_transceiver(pc->jsep, mk, send ? &tr : NULL, &index);
  if (rc == 0 && out) *out = index;
  if (rc == 0 && pc->cbs.on_negotiation_needed) {
    pc_enter(pc);
    pc->cbs.on_negotiation_needed(pc, pc->user);
    pc_leave(pc);
  }
  return rc;
}

int mc_pc_create_offer(mc_pc *pc, char **sdp_out) {
  if (!pc || !sdp_out) return MC_EINVAL;
  *sdp_out = NULL;
  if (pc->closed) return MC_ECLOSED;
  int rc = ensure_session(pc, MC_ICE_ROLE_CONTROLLING);
  if (rc != 0) return rc;
  mc_sdp *m = calloc(1, sizeof *m);
  if (!m) return MC_ENOMEM;
  rc = mc_jsep_create_offer(pc->jsep, m);
  if (rc != 0) set_error(pc, mc_tr("an offer cannot be made now (an offer from the other side is pending)"));
  else rc = write_sdp(pc, m, sdp_out);
  free(m);
  return rc;
}

int mc_pc_create_answer(mc_pc *pc, char **sdp_out) {
  if (!pc || !sdp_out) return MC_EINVAL;
  *sdp_out = NULL;
  if (pc->closed) return MC_ECLOSED;
  if (!pc->jsep) {
    set_error(pc, mc_tr("an answer needs the other side's offer first"));
    return MC_ESTATE;
  }
  mc_sdp *m = calloc(1, sizeof *m);
  if (!m) return MC_ENOMEM;
  int rc = mc_jsep_create_answer(pc->jsep, m);
  if (rc != 0) set_error(pc, mc_tr("an answer needs the other side's offer first"));
  else rc = write_sdp(pc, m, sdp_out);
  free(m);
  return rc;
}

static int parse_sdp(mc_pc *pc, const char *sdp, bool ours, mc_sdp **out) {
  mc_sdp *m = calloc(1, sizeof *m);
  if (!m) return MC_ENOMEM;
  int line = 0;
  char why[160] = "";
  int rc = mc_sdp_parse((const uint8_t *)sdp, strlen(sdp), m, &line, why, sizeof why);
  if (rc != 0) {
    char s[480];
    if (ours) snprintf(s, sizeof s, mc_tr("our session description is malformed at line %d: %s"), line, why);
    else snprintf(s, sizeof s, mc_tr("the other side's session description is malformed at line %d: %s"), line, why);
    set_error(pc, s);
    MC_LOGW(LOG, "%s", s);
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

int mc_pc_set_local_description(mc_pc *pc, enum mc_pc_sdp_type type, const char *sdp) {
  if (!pc || !sdp) return MC_EINVAL;
  if (pc->closed) return MC_ECLOSED;
  if (!pc->jsep) {
    set_error(pc, mc_tr("create an offer or receive one before setting a local description"));
    return MC_ESTATE;
  }
  mc_sdp *m = NULL;
  int rc = parse_sdp(pc, sdp, true, &m);
  if (rc != 0) return rc;
  pc_enter(pc);
  rc = mc_jsep_set_local(pc->jsep, type == MC_PC_OFFER ? MC_SDP_OFFER : MC_SDP_ANSWER, m);
  free(m);
  if (rc != 0) {
    set_error(pc, mc_tr("our session description does not fit the current state"));
    goto out;
  }
  remember_first_mid(pc);
  if (mc_jsep_state(pc->jsep) == MC_JSEP_STABLE) pc_media_on_negotiated(pc);
  if (!pc->gathering) {
    pc->gathering = true;
    pc->t_start_ms = mc_now_ms();
    rc = mc_ice_agent_gather(pc->ice);
    if (rc != 0) set_error(pc, mc_tr("could not gather network candidates"));
  }
  update_state(pc);
out:
  pc_leave(pc);
  return rc;
}

int mc_pc_set_remote_description(mc_pc *pc, enum mc_pc_sdp_type type, const char *sdp) {
  if (!pc || !sdp) return MC_EINVAL;
  if (pc->closed) return MC_ECLOSED;
  mc_sdp *m = NULL;
  int rc = parse_sdp(pc, sdp, false, &m);
  if (rc != 0) return rc;
  pc_enter(pc);
  if (type == MC_PC_OFFER) {
    rc = ensure_session(pc, MC_ICE_ROLE_CONTROLLED);
    if (rc != 0) goto out;
  } else if (!pc->jsep) {
    set_error(pc, mc_tr("an answer arrived but no offer was made"));
    rc = MC_ESTATE;
    goto out;
  }
  char why[256] = "";
  rc = mc_jsep_set_remote(pc->jsep, type == MC_PC_OFFER ? MC_SDP_OFFER : MC_SDP_ANSWER, m, why, sizeof why);
  if (rc != 0) {
    char s[480];
    if (type == MC_PC_OFFER) snprintf(s, sizeof s, mc_tr("the other side's offer cannot be used: %s"), why);
    else snprintf(s, sizeof s, mc_tr("the other side's answer cannot be used: %s"), why);
    set_error(pc, s);
    MC_LOGW(LOG, "%s", s);
    goto out;
  }
  remember_first_mid(pc);
  const struct mc_jsep_transport *t = NULL;
  if (mc_jsep_transport(pc->jsep, &t) == 0 && t) {
    rc = mc_ice_agent_set_remote_credentials(pc->ice, t->remote_ufrag, t->remote_pwd);
    if (rc != 0) {
      set_error(pc, mc_tr("the other side's ICE credentials are malformed"));
      goto out;
    }
    if (t->ice_restart && type == MC_PC_OFFER) {
      /* JSEP 5.3.1: an offer with new credentials gets an answer with new ones. */
      mc_ice_agent_restart(pc->ice);
      char ufrag[MC_ICE_UFRAG_MAX + 1], pwd[MC_ICE_PWD_MAX + 1];
      mc_ice_agent_get_local_credentials(pc->ice, ufrag, pwd);
      mc_jsep_set_ice_credentials(pc->jsep, ufrag, pwd);
      memset(pwd, 0, sizeof pwd);
    }
    for (int i = 0; i < t->candidate_count; i++) mc_ice_agent_add_remote_candidate(pc->ice, t->candidates[i]);
    if (t->end_of_candidates) mc_ice_agent_set_remote_gathering_done(pc->ice);
  }
  if (mc_jsep_state(pc->jsep) == MC_JSEP_STABLE) pc_media_on_negotiated(pc);
  /* A renegotiation that adds the data m-line after DTLS is up. */
  if (pc->dtls && mc_dtls_state(pc->dtls) == MC_DTLS_STATE_CONNECTED && !pc->sctp &&
      mc_jsep_state(pc->jsep) == MC_JSEP_STABLE)
    start_sctp(pc);
  rc = 0;
out:
  free(m);
  pc_leave(pc);
  return rc;
}

int mc_pc_add_remote_candidate(mc_pc *pc, const char *mid, const char *line) {
  (void)mid; /* max-bundle: one transport for every mid */
  if (!pc) return MC_EINVAL;
  if (pc->closed) return MC_ECLOSED;
  if (!pc->ice) {
    set_error(pc, mc_tr("a candidate arrived before any session description"));
    return MC_ESTATE;
  }
  pc_enter(pc);
  int rc;
  if (!line || !*line) rc = mc_ice_agent_set_remote_gathering_done(pc->ice);
  else {
    rc = mc_ice_agent_add_remote_candidate(pc->ice, line);
    if (rc != 0) set_error(pc, mc_tr("the other side sent a malformed ICE candidate"));
  }
  pc_leave(pc);
  return rc;
}

int mc_pc_restart_ice(mc_pc *pc) {
  if (!pc) return MC_EINVAL;
  if (pc->closed) return MC_ECLOSED;
  if (!pc->ice) return MC_ESTATE;
  pc_enter(pc);
  int rc = mc_ice_agent_restart(pc->ice);
  if (rc == 0) {
    char ufrag[MC_ICE_UFRAG_MAX + 1], pwd[MC_ICE_PWD_MAX + 1];
    mc_ice_agent_get_local_credentials(pc->ice, ufrag, pwd);
    rc = mc_jsep_set_ice_credentials(pc->jsep, ufrag, pwd);
    memset(pwd, 0, sizeof pwd);
    if (rc == 0 && pc->cbs.on_negotiation_needed) pc->cbs.on_negotiation_needed(pc, pc->user);
  }
  pc_leave(pc);
  return rc;
}

enum mc_pc_state mc_pc_state(const mc_pc *pc) { return pc ? pc->state : MC_PC_STATE_CLOSED; }
const char *mc_pc_last_error(const mc_pc *pc) { return pc ? pc->last_error : ""; }

/* ---- data channels ---- */

int mc_pc_create_data_channel(mc_pc *pc, const struct mc_dc_config *config, mc_pc_dc *out) {
  if (!pc || !config || !out) return MC_EINVAL;
  if (pc->closed) return MC_ECLOSED;
  if (config->negotiated && (config->id < 0 || config->id > 65534)) return MC_EINVAL;
  if (config->max_retransmits >= 0 && config->max_packet_lifetime >= 0) return MC_EINVAL;
  const char *label = config->label ? config->label : "";
  const char *protocol = config->protocol ? config->protocol : "";
  if (strlen(label) > MC_SCTP_LABEL_MAX || strlen(protocol) > MC_SCTP_LABEL_MAX) return MC_EINVAL;
  int ch = dc_alloc(pc);
  if (ch < 0) return MC_ETOOBIG;
  struct pc_dc *d = &pc->dcs[ch];
  d->cfg = *config;
  mc_strcpy(d->label, sizeof d->label, label);
  mc_strcpy(d->protocol, sizeof d->protocol, protocol);
  d->cfg.label = d->label;
  d->cfg.protocol = d->protocol;
  if (config->negotiated) d->sid = config->id;
  *out = ch;
  pc_enter(pc);
  bool need = false;
  if (!pc->jsep) pc->want_data = true;
  else if (!data_media(pc)) {
    mc_jsep_add_data(pc->jsep);
    need = true;
  }
  dc_request(pc, ch);
  if (need && pc->cbs.on_negotiation_needed) pc->cbs.on_negotiation_needed(pc, pc->user);
  pc_leave(pc);
  return 0;
}

static struct pc_dc *dc_get(const mc_pc *pc, mc_pc_dc ch) {
  if (!pc || ch < 0 || ch >= PC_MAX_DC || !pc->dcs[ch].used) return NULL;
  return (struct pc_dc *)&pc->dcs[ch];
}

int mc_pc_dc_send(mc_pc *pc, mc_pc_dc ch, const void *data, size_t len, bool binary) {
  struct pc_dc *d = dc_get(pc, ch);
  if (!d || (!data && len)) return MC_EINVAL;
  if (!d->open || d->closed || !pc->sctp || d->sid < 0) return MC_ESTATE;
  pc_enter(pc);
  int rc = mc_sctp_send(pc->sctp, (uint16_t)d->sid, data, len, binary);
  if (rc == 0) {
    pc->dc_msgs_sent++;
    pc->dc_bytes_sent += len;
  }
  pc_leave(pc);
  return rc;
}

size_t mc_pc_dc_buffered_amount(const mc_pc *pc, mc_pc_dc ch) {
  struct pc_dc *d = dc_get(pc, ch);
  if (!d || !pc->sctp || d->sid < 0) return 0;
  return mc_sctp_buffered_amount(pc->sctp, (uint16_t)d->sid);
}

int mc_pc_dc_set_buffered_amount_low_threshold(mc_pc *pc, mc_pc_dc ch, size_t threshold) {
  struct pc_dc *d = dc_get(pc, ch);
  if (!d) return MC_EINVAL;
  d->low_threshold = threshold;
  if (pc->sctp && d->sid >= 0 && d->requested)
    return mc_sctp_set_buffered_amount_low_threshold(pc->sctp, (uint16_t)d->sid, threshold);
  return 0;
}

int mc_pc_dc_id(const mc_pc *pc, mc_pc_dc ch) {
  struct pc_dc *d = dc_get(pc, ch);
  return d ? d->sid : -1;
}

uint64_t mc_pc_dc_max_message_size(const mc_pc *pc) { return pc ? pc->remote_max_message : 0; }

int mc_pc_dc_close(mc_pc *pc, mc_pc_dc ch) {
  struct pc_dc *d = dc_get(pc, ch);
  if (!d) return MC_EINVAL;
  if (d->closed) return 0;
  pc_enter(pc);
  int rc = 0;
  if (pc->sctp && d->sid >= 0 && d->requested) rc = mc_sctp_close_channel(pc->sctp, (uint16_t)d->sid);
  else {
    d->closed = true;
    if (pc->cbs.on_dc_close) pc->cbs.on_dc_close(pc, ch, pc->user);
    d->used = false;
  }
  pc_leave(pc);
  return rc;
}

/* ---- statistics ---- */

int mc_pc_get_stats(const mc_pc *pc, struct mc_pc_stats *out) {
  if (!pc || !out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  out->state = pc->state;
  pc_media_bitrates(pc, &out->available_outgoing_bitrate_bps, &out->available_incoming_bitrate_bps);
  mc_strcpy(out->ice_state, sizeof out->ice_state,
            pc->ice ? mc_ice_state_name(mc_ice_agent_state(pc->ice)) : "new");
  mc_strcpy(out->dtls_state, sizeof out->dtls_state, pc->dtls ? mc_dtls_state_name(mc_dtls_state(pc->dtls)) : "new");
  char fp[MC_DTLS_FP_STRLEN];
  if (mc_dtls_fingerprint_format(pc->fp, sizeof pc->fp, fp, sizeof fp) == 0)
    snprintf(out->local_fingerprint, sizeof out->local_fingerprint, "sha-256 %s", fp);
  const struct mc_jsep_transport *t = NULL;
  if (pc->jsep && mc_jsep_transport(pc->jsep, &t) == 0 && t) {
    out->dtls_client = t->dtls_client;
    if (mc_dtls_fingerprint_format(t->remote_fp, t->remote_fp_len, fp, sizeof fp) == 0)
      snprintf(out->remote_fingerprint, sizeof out->remote_fingerprint, "%s %s", t->remote_fp_algorithm, fp);
  }
  struct mc_dtls_srtp_keys keys;
  if (pc->dtls && mc_dtls_srtp_keys(pc->dtls, &keys) == 0) {
    mc_strcpy(out->srtp_cipher, sizeof out->srtp_cipher, mc_dtls_srtp_profile_name(keys.profile));
    memset(&keys, 0, sizeof keys);
  }
  struct mc_ice_stats is;
  if (pc->ice && mc_ice_agent_get_stats(pc->ice, &is) == 0) {
    out->bytes_sent = is.bytes_sent;
    out->bytes_received = is.bytes_received;
    out->has_selected_pair = is.has_selected;
    if (is.has_selected) {
      char as[MC_ADDR_STRLEN];
      mc_strcpy(out->local_candidate_type, sizeof out->local_candidate_type,
                mc_ice_cand_type_name(is.selected_local.type));
      mc_strcpy(out->remote_candidate_type, sizeof out->remote_candidate_type,
                mc_ice_cand_type_name(is.selected_remote.type));
      mc_strcpy(out->protocol, sizeof out->protocol,
                is.selected_local.transport == MC_ICE_TRANSPORT_TCP ? "tcp" : "udp");
      mc_strcpy(out->local_address, sizeof out->local_address, mc_addr_str(&is.selected_local.addr, as));
      mc_strcpy(out->remote_address, sizeof out->remote_address, mc_addr_str(&is.selected_remote.addr, as));
      mc_strcpy(out->relay_url, sizeof out->relay_url, is.selected_relay_url);
    }
  }
  out->ice_connected_ms = pc->t_ice_ms;
  out->dtls_connected_ms = pc->t_dtls_ms;
  out->srtp_packets_received = pc->srtp_packets;
  out->srtp_auth_failures = pc->srtp_failures;
  out->dc_messages_sent = pc->dc_msgs_sent;
  out->dc_messages_received = pc->dc_msgs_recv;
  out->dc_bytes_sent = pc->dc_bytes_sent;
  out->dc_bytes_received = pc->dc_bytes_recv;
  return 0;
}
