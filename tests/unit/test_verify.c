/* The verification code (issue 6 item 3): a known answer computed outside
 * medcall (Python hashlib over the sorted, space-joined fingerprints), the
 * same code whichever side is "local", case and the "sha-256 " prefix
 * ignored, a different certificate giving a different code, malformed
 * fingerprints refused, and real certificates' fingerprints. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "dtls/dtls.h"

#define FP_A "AB:CD:00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D"
#define FP_B "01:23:FF:FE:FD:FC:FB:FA:F9:F8:F7:F6:F5:F4:F3:F2:F1:F0:EF:EE:ED:EC:EB:EA:E9:E8:E7:E6:E5:E4:E3:E2"
/* FP_B with its last byte changed: a man in the middle's certificate */
#define FP_M "01:23:FF:FE:FD:FC:FB:FA:F9:F8:F7:F6:F5:F4:F3:F2:F1:F0:EF:EE:ED:EC:EB:EA:E9:E8:E7:E6:E5:E4:E3:00"

static void test_known_answer(void) {
  char code[MC_DTLS_VERIFICATION_CODE_LEN];
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, FP_B, code), 0);
  CHECK_STR(code, "179 358");
  /* either order */
  CHECK_EQ_INT(mc_dtls_verification_code(FP_B, FP_A, code), 0);
  CHECK_STR(code, "179 358");
  /* as mc_pc_get_stats and a=fingerprint carry them, lower case too */
  CHECK_EQ_INT(mc_dtls_verification_code("sha-256 " FP_A, "SHA-256 " FP_B "\r\n", code), 0);
  CHECK_STR(code, "179 358");
  char lower[sizeof FP_A];
  for (size_t i = 0; i < sizeof FP_A; i++) lower[i] = (char)(FP_A[i] >= 'A' && FP_A[i] <= 'F' ? FP_A[i] + 32 : FP_A[i]);
  CHECK_EQ_INT(mc_dtls_verification_code(FP_B, lower, code), 0);
  CHECK_STR(code, "179 358");
  /* one byte of one certificate changed: another code (known answer too) */
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, FP_M, code), 0);
  CHECK_STR(code, "219 997");
}

static void test_refused(void) {
  char code[MC_DTLS_VERIFICATION_CODE_LEN] = "x";
  CHECK_EQ_INT(mc_dtls_verification_code(NULL, FP_B, code), MC_EINVAL);
  CHECK_STR(code, "");
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, "", code), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, "sha-256 ", code), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, "AB:CD:", code), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, "AB:CG", code), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, "ABC:D", code), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, "AB CD", code), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, FP_B, NULL), MC_EINVAL);
  char big[400];
  memset(big, 0, sizeof big);
  for (size_t i = 0; i + 3 < sizeof big; i += 3) memcpy(big + i, i ? ":AB" : "AB:", 3);
  big[sizeof big - 3] = '\0';
  CHECK_EQ_INT(mc_dtls_verification_code(FP_A, big, code), MC_EINVAL);
}

static void test_real_certificates(void) {
  mc_dtls_cert *c1 = NULL, *c2 = NULL, *c3 = NULL;
  CHECK_EQ_INT(mc_dtls_cert_generate(&c1), 0);
  CHECK_EQ_INT(mc_dtls_cert_generate(&c2), 0);
  CHECK_EQ_INT(mc_dtls_cert_generate(&c3), 0);
  if (!c1 || !c2 || !c3) goto out;
  uint8_t fp[MC_DTLS_FP_SHA256_LEN];
  char s1[MC_DTLS_FP_STRLEN], s2[MC_DTLS_FP_STRLEN], s3[MC_DTLS_FP_STRLEN];
  mc_dtls_cert_fingerprint(c1, fp);
  mc_dtls_fingerprint_format(fp, sizeof fp, s1, sizeof s1);
  mc_dtls_cert_fingerprint(c2, fp);
  mc_dtls_fingerprint_format(fp, sizeof fp, s2, sizeof s2);
  mc_dtls_cert_fingerprint(c3, fp);
  mc_dtls_fingerprint_format(fp, sizeof fp, s3, sizeof s3);
  char doctor[MC_DTLS_VERIFICATION_CODE_LEN], patient[MC_DTLS_VERIFICATION_CODE_LEN], mitm[MC_DTLS_VERIFICATION_CODE_LEN];
  CHECK_EQ_INT(mc_dtls_verification_code(s1, s2, doctor), 0);
  CHECK_EQ_INT(mc_dtls_verification_code(s2, s1, patient), 0);
  CHECK_STR(doctor, patient);
  CHECK(strlen(doctor) == 7 && doctor[3] == ' ');
  for (int i = 0; i < 7; i++)
    if (i != 3) CHECK(doctor[i] >= '0' && doctor[i] <= '9');
  /* the patient talks to a middle man holding c3 */
  CHECK_EQ_INT(mc_dtls_verification_code(s3, s2, mitm), 0);
  fprintf(stderr, "codes: %s (both) %s (middle)\n", doctor, mitm);
out:
  mc_dtls_cert_free(c1);
  mc_dtls_cert_free(c2);
  mc_dtls_cert_free(c3);
}

int main(void) {
  test_known_answer();
  test_refused();
  test_real_certificates();
  return CHECK_DONE();
}
