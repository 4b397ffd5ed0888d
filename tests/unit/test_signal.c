/* The signaling message validator: every rule of docs/signaling.md that
 * mc_signal_parse enforces, accepted and refused. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "signal/signal.h"

static int parse(const char *text, mc_signal_msg *m, enum mc_signal_error *e, enum mc_signal_type *t) {
  *e = MC_SIGERR_NONE;
  *t = MC_SIG_UNKNOWN;
  return mc_signal_parse((const uint8_t *)text, strlen(text), m, e, t);
}

/* The error code a message is refused with, or MC_SIGERR_NONE. */
static enum mc_signal_error refusal(const char *text) {
  mc_signal_msg m;
  enum mc_signal_error e;
  enum mc_signal_type t;
  int rc = parse(text, &m, &e, &t);
  mc_signal_msg_clear(&m);
  return rc == 0 ? MC_SIGERR_NONE : e;
}

#define ROOM "AAAAAAAAAAAAAAAAAAAAAA"
#define ROOM2 "abcdefghijklmnopqrstu-_"

static void test_names(void) {
  for (int t = 1; t < MC_SIG_TYPE_COUNT; t++) {
    const char *n = mc_signal_type_name((enum mc_signal_type)t);
    CHECK_EQ_INT(mc_signal_type_from_name(n, strlen(n)), t);
  }
  CHECK_EQ_INT(mc_signal_type_from_name("offe", 4), MC_SIG_UNKNOWN);
  CHECK_EQ_INT(mc_signal_type_from_name("offerx", 6), MC_SIG_UNKNOWN);
  CHECK_STR(mc_signal_type_name((enum mc_signal_type)999), "unknown");
  CHECK_STR(mc_signal_error_name(MC_SIGERR_ROOM_FULL), "room-full");
  CHECK_STR(mc_signal_error_name(MC_SIGERR_RATE_LIMITED), "rate-limited");
  for (int e = 1; e < MC_SIGERR_COUNT; e++) {
    CHECK(strcmp(mc_signal_error_name((enum mc_signal_error)e), "unknown") != 0);
    CHECK(strlen(mc_signal_error_sentence((enum mc_signal_error)e)) > 10);
  }
  CHECK(mc_signal_type_from_client(MC_SIG_CREATE));
  CHECK(mc_signal_type_from_client(MC_SIG_PING));
  CHECK(mc_signal_type_from_client(MC_SIG_ICE));
  CHECK(!mc_signal_type_from_client(MC_SIG_ICE_SERVERS));
  CHECK(!mc_signal_type_from_client(MC_SIG_CREATED));
  CHECK(!mc_signal_type_from_client(MC_SIG_ERROR));
}

static void test_ids(void) {
  char a[23], b[23];
  CHECK_EQ_INT(mc_signal_new_id(a, sizeof a), 0);
  CHECK_EQ_INT(mc_signal_new_id(b, sizeof b), 0);
  CHECK_EQ_INT(strlen(a), 22);
  CHECK(mc_signal_id_valid(a, strlen(a)));
  CHECK(strcmp(a, b) != 0);
  CHECK_EQ_INT(mc_signal_new_id(a, 22), MC_ETOOBIG);
  CHECK(!mc_signal_id_valid("AAAAAAAAAAAAAAAAAAAAA", 21));
  CHECK(!mc_signal_id_valid("AAAAAAAAAAAAAAAAAAAAA+", 22)); /* standard base64, not base64url */
  CHECK(!mc_signal_id_valid("AAAAAAAAAAAAAAAAAAAAA=", 22));
  CHECK(!mc_signal_id_valid("AAAAAAAAAAAAAAAAAAAAA/", 22));
  CHECK(mc_signal_id_valid(ROOM2, strlen(ROOM2)));
  /* 1000 ids: all distinct 128-bit values, so a collision means broken randomness. */
  static char ids[1000][23];
  int dup = 0;
  for (int i = 0; i < 1000; i++) {
    mc_signal_new_id(ids[i], 23);
    for (int j = 0; j < i; j++) dup += strcmp(ids[i], ids[j]) == 0;
  }
  CHECK_EQ_INT(dup, 0);
}

static void test_accepts(void) {
  mc_signal_msg m;
  enum mc_signal_error e;
  enum mc_signal_type t;

  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"create\",\"token\":\"s3cret\"}", &m, &e, &t), 0);
  CHECK_EQ_INT(m.type, MC_SIG_CREATE);
  CHECK_STR(m.token, "s3cret");
  mc_signal_msg_clear(&m);

  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"create\"}", &m, &e, &t), 0);
  CHECK(m.token == NULL);
  mc_signal_msg_clear(&m);

  CHECK_EQ_INT(parse("{\"type\":\"join\",\"v\":1,\"room\":\"" ROOM "\",\"name\":\"Ana L\\u00facia\",\"x\":[1]}", &m, &e,
                     &t),
               0);
  CHECK_EQ_INT(m.type, MC_SIG_JOIN);
  CHECK_STR(m.room, ROOM);
  CHECK_STR(m.name, "Ana L\xc3\xba" "cia");
  mc_signal_msg_clear(&m);

  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"resume\",\"session\":\"" ROOM2 "\"}", &m, &e, &t), 0);
  CHECK_STR(m.session, ROOM2);
  mc_signal_msg_clear(&m);

  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\n\"}", &m, &e, &t), 0);
  CHECK_EQ_INT(m.type, MC_SIG_OFFER);
  CHECK(strncmp(m.sdp, "v=0\r\no=-", 8) == 0);
  mc_signal_msg_clear(&m);

  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}", &m, &e, &t), 0);
  CHECK_EQ_INT(t, MC_SIG_ANSWER);
  mc_signal_msg_clear(&m);

  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 2122260223 192.0.2.1 "
                     "54400 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
                     &m, &e, &t),
               0);
  CHECK_STR(m.sdp_mid, "0");
  CHECK_EQ_INT(m.sdp_mline_index, 0);
  mc_signal_msg_clear(&m);

  /* end of candidates (RFC 8838 4), with null mid/index as browsers send */
  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMid\":null,\"sdpMLineIndex\":null}", &m,
                     &e, &t),
               0);
  CHECK_STR(m.candidate, "");
  CHECK(m.sdp_mid == NULL);
  CHECK_EQ_INT(m.sdp_mline_index, -1);
  mc_signal_msg_clear(&m);

  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"ice\",\"room\":\"" ROOM "\"}", &m, &e, &t), 0);
  CHECK_EQ_INT(m.type, MC_SIG_ICE);
  CHECK_STR(m.room, ROOM);
  mc_signal_msg_clear(&m);

  const char *bare[] = {"admit", "decline", "leave", "end", "ping"};
  for (size_t i = 0; i < 5; i++) {
    char text[80];
    snprintf(text, sizeof text, "{\"v\":1,\"type\":\"%s\"}", bare[i]);
    CHECK_EQ_INT(parse(text, &m, &e, &t), 0);
    CHECK_STR(mc_signal_type_name(m.type), bare[i]);
    mc_signal_msg_clear(&m);
  }
}

static void test_refuses(void) {
  CHECK_EQ_INT(refusal(""), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("not json"), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("[1,2]"), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("\"ping\""), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"ping\"} trailing"), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"ping\",\"type\":\"end\"}"), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"ping\",\"x\":\"\xff\xfe\"}"), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"a\\u0000b\"}"), MC_SIGERR_BAD_JSON);
  CHECK_EQ_INT(refusal("{\"type\":\"ping\"}"), MC_SIGERR_BAD_VERSION);
  CHECK_EQ_INT(refusal("{\"v\":2,\"type\":\"ping\"}"), MC_SIGERR_BAD_VERSION);
  CHECK_EQ_INT(refusal("{\"v\":\"1\",\"type\":\"ping\"}"), MC_SIGERR_BAD_VERSION);
  CHECK_EQ_INT(refusal("{\"v\":1.0,\"type\":\"ping\"}"), MC_SIGERR_BAD_VERSION);
  CHECK_EQ_INT(refusal("{\"v\":1}"), MC_SIGERR_UNKNOWN_TYPE);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":7}"), MC_SIGERR_UNKNOWN_TYPE);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"frobnicate\"}"), MC_SIGERR_UNKNOWN_TYPE);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"created\"}"), MC_SIGERR_UNKNOWN_TYPE); /* server->client only */
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"error\"}"), MC_SIGERR_UNKNOWN_TYPE);
  /* create */
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"create\",\"token\":5}"), MC_SIGERR_BAD_FIELD);
  /* join */
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"name\":\"Ana\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"short\",\"name\":\"Ana\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"AAAAAAAAAAAAAAAAAAAA/A\",\"name\":\"Ana\"}"),
               MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"   \"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"a\\nb\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"a\\u001bb\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":[\"Ana\"]}"), MC_SIGERR_BAD_FIELD);
  char longname[200];
  snprintf(longname, sizeof longname, "{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"%065d\"}", 0);
  CHECK_EQ_INT(refusal(longname), MC_SIGERR_BAD_FIELD);
  snprintf(longname, sizeof longname, "{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"%064d\"}", 0);
  CHECK_EQ_INT(refusal(longname), MC_SIGERR_NONE);
  /* ice */
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"ice\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"ice\",\"room\":\"AAAA\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"ice-servers\"}"), MC_SIGERR_UNKNOWN_TYPE);
  /* resume */
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"resume\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"resume\",\"session\":\"x\"}"), MC_SIGERR_BAD_FIELD);
  /* offer / answer */
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"offer\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"offer\",\"sdp\":\"hello\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"answer\",\"sdp\":{\"type\":\"answer\"}}"), MC_SIGERR_BAD_FIELD);
  /* candidate */
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"candidate\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"a=candidate:1\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1\\r\\na=x\"}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":256}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":-1}"), MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(refusal("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMid\":3}"), MC_SIGERR_BAD_FIELD);
}

static void test_type_reported(void) {
  mc_signal_msg m;
  enum mc_signal_error e;
  enum mc_signal_type t;
  /* The type of a refused message is still reported, for the error's "ref". */
  CHECK(parse("{\"v\":1,\"type\":\"join\",\"room\":1}", &m, &e, &t) < 0);
  CHECK_EQ_INT(e, MC_SIGERR_BAD_FIELD);
  CHECK_EQ_INT(t, MC_SIG_JOIN);
  CHECK(m.json_ == NULL && m.room == NULL);
  CHECK(parse("{\"v\":3,\"type\":\"offer\"}", &m, &e, &t) < 0);
  CHECK_EQ_INT(e, MC_SIGERR_BAD_VERSION);
  CHECK_EQ_INT(t, MC_SIG_OFFER);
}

static void test_error_json(void) {
  char *s = mc_signal_error_json(MC_SIGERR_ROOM_FULL, MC_SIG_JOIN);
  CHECK(s != NULL);
  CHECK(strstr(s, "\"type\":\"error\"") != NULL);
  CHECK(strstr(s, "\"code\":\"room-full\"") != NULL);
  CHECK(strstr(s, "\"ref\":\"join\"") != NULL);
  CHECK(strstr(s, "\"v\":1") != NULL);
  enum mc_signal_type t = MC_SIG_UNKNOWN;
  CHECK_EQ_INT(mc_signal_peek_type((const uint8_t *)s, strlen(s), &t), 0);
  CHECK_EQ_INT(t, MC_SIG_ERROR);
  free(s);
  s = mc_signal_error_json(MC_SIGERR_BAD_JSON, MC_SIG_UNKNOWN);
  CHECK(s && strstr(s, "ref") == NULL);
  free(s);
  /* peek refuses client messages and garbage */
  const char *ping = "{\"v\":1,\"type\":\"ping\"}";
  CHECK_EQ_INT(mc_signal_peek_type((const uint8_t *)ping, strlen(ping), &t), MC_EPARSE);
  CHECK_EQ_INT(mc_signal_peek_type((const uint8_t *)"{", 1, &t), MC_EPARSE);
  const char *knock = "{\"v\":1,\"type\":\"knock\",\"name\":\"Ana\"}";
  CHECK_EQ_INT(mc_signal_peek_type((const uint8_t *)knock, strlen(knock), &t), 0);
  CHECK_EQ_INT(t, MC_SIG_KNOCK);
}

/* What the peer gets of an offer, answer or candidate (issue 14): the
 * protocol's fields, rebuilt; nothing else the sender put in. */
static char *relayed(const char *text) {
  mc_signal_msg m;
  enum mc_signal_error e;
  enum mc_signal_type t;
  if (parse(text, &m, &e, &t) != 0) return NULL;
  char *out = mc_signal_relay_json(&m);
  mc_signal_msg_clear(&m);
  return out;
}

static void test_relay_json(void) {
  char *s = relayed("{\"x\":{\"y\":[1,{\"z\":null}]},\"type\":\"offer\",\"v\":1,\"evil\":\"<script>\","
                    "\"sdp\":\"v=0\\r\\ns=caf\\u00e9 \\\"q\\\" \\\\ \\/ \xe2\x82\xac\\u0001\\r\\n\"}");
  CHECK_STR(s ? s : "", "{\"v\":1,\"type\":\"offer\",\"sdp\":\"v=0\\r\\ns=caf\xc3\xa9 \\\"q\\\" \\\\ / \xe2\x82\xac\\u0001\\r\\n\"}");
  /* what the peer reads back is the sender's sdp, byte for byte */
  mc_signal_msg a, b;
  enum mc_signal_error e;
  enum mc_signal_type t;
  CHECK_EQ_INT(parse("{\"v\":1,\"type\":\"answer\",\"sdp\":\"v=0\\r\\na=\\u00ff\\t\\\"\\r\\n\",\"sdp2\":1}", &a, &e, &t), 0);
  char *r = mc_signal_relay_json(&a);
  CHECK(r != NULL);
  CHECK_EQ_INT(parse(r ? r : "", &b, &e, &t), 0);
  CHECK_EQ_INT(b.type, MC_SIG_ANSWER);
  CHECK(a.sdp && b.sdp && !strcmp(a.sdp, b.sdp));
  CHECK(r && !strstr(r, "sdp2"));
  mc_signal_msg_clear(&a);
  mc_signal_msg_clear(&b);
  free(r);
  free(s);
  s = relayed("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 1 192.0.2.1 9 typ host\","
              "\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":\"abc\",\"foundation\":{}}");
  CHECK_STR(s ? s : "", "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 1 192.0.2.1 9 typ host\","
                        "\"sdpMid\":\"0\",\"sdpMLineIndex\":0}");
  free(s);
  /* nulls and absent fields stay absent; an empty mid is a mid */
  s = relayed("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMid\":null,\"sdpMLineIndex\":null}");
  CHECK_STR(s ? s : "", "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\"}");
  free(s);
  s = relayed("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMid\":\"\",\"sdpMLineIndex\":255}");
  CHECK_STR(s ? s : "", "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMid\":\"\",\"sdpMLineIndex\":255}");
  free(s);
  /* only offer, answer and candidate are relayed */
  s = relayed("{\"v\":1,\"type\":\"ping\"}");
  CHECK(s == NULL);
  s = relayed("{\"v\":1,\"type\":\"join\",\"room\":\"" ROOM "\",\"name\":\"Ana\"}");
  CHECK(s == NULL);
  CHECK(mc_signal_relay_json(NULL) == NULL);
}

int main(void) {
  test_names();
  test_ids();
  test_accepts();
  test_refuses();
  test_type_reported();
  test_error_json();
  test_relay_json();
  return CHECK_DONE();
}
