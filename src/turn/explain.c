/* One clear sentence per TURN/STUN failure (RFC 8656 19 and RFC 8489 14.8
 * list the error codes). The sentence names the server, says what happened
 * with the code, and says what to do. */
#include <stdio.h>
#include <string.h>

#include "turn/turn_private.h"

static const char *transport_upper(enum mc_turn_transport t) {
  switch (t) {
  case MC_TURN_UDP: return "UDP";
  case MC_TURN_TCP: return "TCP";
  case MC_TURN_TLS: return "TLS";
  }
  return "?";
}

/* Reason phrases come from the network: keep only printable ASCII so a
 * hostile server cannot put control characters into our terminal or logs. */
static void clean(char *out, size_t cap, const char *in) {
  size_t n = 0;
  if (cap == 0) return;
  for (; in && *in && n + 1 < cap && n < 120; in++) {
    unsigned char ch = (unsigned char)*in;
    out[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
  }
  out[n] = '\0';
}

/* RFC 8656 19 / RFC 8489 14.8 error codes whose sentence needs only the
 * server's name: what it said, then what to do. */
static const struct {
  uint16_t code;
  const char *says; /* "KIND SERVER says ..." */
} fixed_sentences[] = {
    {300, MC_TR_NOOP("%s %s redirected us to another server (300 Try Alternate), which medcall does not follow; use that server's URL instead.")},
    {420, MC_TR_NOOP("%s %s did not understand an attribute we sent (420 Unknown Attribute); the server may be too old for RFC 8656 TURN.")},
    {437, MC_TR_NOOP("%s %s has no matching allocation for this connection (437 Allocation Mismatch); the allocation expired or another one exists, so restart the call.")},
    {438, MC_TR_NOOP("%s %s kept rejecting our nonce as stale (438 Stale Nonce); retry, and report it to the server's operator if it persists.")},
    {440, MC_TR_NOOP("%s %s cannot relay the requested address family (440 Address Family not Supported); use an IPv4 relay or another server.")},
    {441, MC_TR_NOOP("%s %s says the credentials do not match the ones that created the allocation (441 Wrong Credentials); use one username for the whole call.")},
    {442, MC_TR_NOOP("%s %s does not relay UDP for us (442 Unsupported Transport Protocol); ask the server's operator to enable UDP relaying.")},
    {443, MC_TR_NOOP("%s %s cannot reach a peer of the other address family (443 Peer Address Family Mismatch); the peer needs a relay of the same family.")},
    {486, MC_TR_NOOP("%s %s has too many allocations for this username (486 Allocation Quota Reached); end other calls or wait a few minutes.")},
    {500, MC_TR_NOOP("%s %s failed internally (500 Server Error); try again later or use another server.")},
    {508, MC_TR_NOOP("%s %s has no relay capacity left (508 Insufficient Capacity); try again later or use another server.")},
};

const char *mc_turn_explain_as(char *buf, size_t cap, const char *kind, const char *server,
                               enum mc_turn_transport transport, uint16_t code, const char *reason, int err,
                               bool with_credentials) {
  char why[128];
  const char *tr = transport_upper(transport);
  if (!buf || cap == 0) return buf;
  clean(why, sizeof why, reason);
  if (!server) server = "?";
  kind = mc_tr(kind);
  for (size_t i = 0; i < MC_ARRAY_LEN(fixed_sentences); i++) {
    if (fixed_sentences[i].code == code) {
      snprintf(buf, cap, mc_tr(fixed_sentences[i].says), kind, server);
      return buf;
    }
  }
  switch (code) {
  case 0: break;
  case 400:
    snprintf(buf, cap, mc_tr("%s %s rejected our request as malformed (400 Bad Request%s%s); check that the URL points at a TURN server and not at another service."), kind, server, why[0] ? ": " : "", why);
    return buf;
  case 401:
    if (with_credentials)
      snprintf(buf, cap, mc_tr("%s %s rejected the username or password (401 Unauthorized); check --ice-username and --ice-credential, or that medcall-server's --turn-secret is coturn's static-auth-secret."), kind, server);
    else
      snprintf(buf, cap, mc_tr("%s %s requires a username and password (401 Unauthorized); give them with --ice-username and --ice-credential."), kind, server);
    return buf;
  case 403:
    snprintf(buf, cap, mc_tr("%s %s refused the request (403 Forbidden%s%s): its policy does not allow this relay or peer address; ask the server's operator."), kind, server, why[0] ? ": " : "", why);
    return buf;
  default:
    snprintf(buf, cap, mc_tr("%s %s answered with error %u%s%s; check the server's configuration."), kind, server,
             (unsigned)code, why[0] ? " " : "", why);
    return buf;
  }

  switch (err) {
  case MC_ETIMEDOUT:
    snprintf(buf, cap, mc_tr("%s %s did not answer over %s (transaction timed out); check the host and port, and whether a firewall blocks %s."), kind, server, tr, tr);
    break;
  case MC_EREFUSED:
  case MC_ECLOSED:
    snprintf(buf, cap, mc_tr("%s %s refused or closed the %s connection%s%s%s; check the port and that the server listens on %s."), kind, server, tr, why[0] ? " (" : "", why, why[0] ? ")" : "", tr);
    break;
  case MC_ETLS:
    snprintf(buf, cap, mc_tr("TLS with %s %s failed%s%s%s; if the server uses a private CA point SSL_CERT_FILE at it, or pass --insecure for a test server."), kind, server, why[0] ? " (" : "", why, why[0] ? ")" : "");
    break;
  case MC_ERESOLVE:
    snprintf(buf, cap, mc_tr("The name of %s %s could not be resolved; check the spelling and this machine's DNS."), kind, server);
    break;
  case MC_EAUTH:
    snprintf(buf, cap, mc_tr("%s %s sent an answer that failed the integrity check; the password may be wrong or something altered the traffic."), kind, server);
    break;
  case MC_EPARSE:
    snprintf(buf, cap, mc_tr("%s %s sent bytes that are not STUN or TURN; check that the URL points at a TURN server."), kind, server);
    break;
  case MC_EIO:
    snprintf(buf, cap, mc_tr("Could not talk to %s %s over %s%s%s%s; check that this machine has a network route to it."), kind, server, tr, why[0] ? " (" : "", why, why[0] ? ")" : "");
    break;
  case MC_ENOMEM:
    snprintf(buf, cap, mc_tr("Ran out of memory while talking to %s %s."), kind, server);
    break;
  default:
    snprintf(buf, cap, mc_tr("Talking to %s %s over %s failed (%s)."), kind, server, tr, mc_strerror(err));
    break;
  }
  return buf;
}

const char *mc_turn_explain(char *buf, size_t cap, const char *server, enum mc_turn_transport transport,
                            uint16_t code, const char *reason, int err, bool with_credentials) {
  return mc_turn_explain_as(buf, cap, MC_TR_NOOP("TURN server"), server, transport, code, reason, err, with_credentials);
}

int mc_turn_error_to_mc(uint16_t code) {
  switch (code) {
  case 0: return 0;
  case 401:
  case 441: return MC_EAUTH;
  case 437: return MC_ESTATE;
  case 400:
  case 420: return MC_EPARSE;
  default: return MC_EREFUSED;
  }
}
