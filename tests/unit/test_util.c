#include "check.h"
#include "util/util.h"

int main(void) {
  uint8_t b[8];
  mc_put_be32(b, 0x01020304u);
  CHECK_EQ_INT(mc_get_be32(b), 0x01020304);
  mc_put_be64(b, 0x1122334455667788ull);
  CHECK(mc_get_be64(b) == 0x1122334455667788ull);

  char hex[9];
  const uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef};
  CHECK_EQ_INT(mc_hex_encode(bytes, 4, hex, sizeof hex), MC_OK);
  CHECK_STR(hex, "deadbeef");
  CHECK_EQ_INT(mc_hex_encode(bytes, 4, hex, 8), MC_ETOOBIG);

  char b64[16];
  CHECK_EQ_INT(mc_base64_encode((const uint8_t *)"hello", 5, b64, sizeof b64), 8);
  CHECK_STR(b64, "aGVsbG8=");
  uint8_t dec[16];
  CHECK_EQ_INT(mc_base64_decode("aGVsbG8=", 8, dec, sizeof dec), 5);
  CHECK_MEM(dec, "hello", 5);
  CHECK(mc_base64_decode("aGVsbG8", 7, dec, sizeof dec) < 0);

  /* a minimum over one to two windows of 10 */
  struct mc_window_min wm = {0};
  mc_window_min_add(&wm, 50, 0, 10);
  CHECK(wm.have && !wm.rolled && mc_window_min_get(&wm) == 50);
  mc_window_min_add(&wm, 30, 5, 10);
  mc_window_min_add(&wm, 70, 10, 10); /* a new bucket: 30 is still in the last one */
  CHECK(wm.rolled && mc_window_min_get(&wm) == 30);
  mc_window_min_add(&wm, 60, 15, 10);
  CHECK(mc_window_min_get(&wm) == 30);
  mc_window_min_add(&wm, 80, 20, 10); /* 30's bucket is gone */
  CHECK(mc_window_min_get(&wm) == 60);
  mc_window_min_add(&wm, 40, 21, 10);
  CHECK(mc_window_min_get(&wm) == 40);

  char ice[23];
  CHECK_EQ_INT(mc_random_ice_chars(ice, 22), MC_OK);
  CHECK_EQ_INT(strlen(ice), 22);

  char small[4];
  CHECK_EQ_INT(mc_strcpy(small, sizeof small, "abcdef"), MC_ETOOBIG);
  CHECK_STR(small, "abc");

  uint64_t t0 = mc_now_ms();
  CHECK(mc_now_ms() >= t0);
  CHECK(mc_wall_ms() > 1600000000000ull);
  CHECK_STR(mc_strerror(MC_ETIMEDOUT), "timed out");
  return CHECK_DONE();
}
