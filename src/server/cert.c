/* The server's TLS certificate: a self-signed ECDSA P-256 one made with the
 * OpenSSL API on first run and kept in the state directory, so the
 * fingerprint a doctor pinned stays the same across restarts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "server/server.h"
#include "util/util.h"

#define CERT_VALID_DAYS 825

int mc_server_cert_fingerprint(const char *cert_path, char *fp_out, size_t fp_cap) {
  int rc = MC_EIO;
  X509 *x = NULL;
  FILE *f = fopen(cert_path, "r");
  if (!f) goto fail;
  x = PEM_read_X509(f, NULL, NULL, NULL);
  if (!x) {
    rc = MC_EPARSE;
    goto fail;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32) goto fail;
  if (fp_cap < 3 * n) {
    rc = MC_ETOOBIG;
    goto fail;
  }
  for (unsigned i = 0; i < n; i++) snprintf(fp_out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
  rc = MC_OK;
fail:
  X509_free(x);
  if (f) fclose(f);
  return rc;
}

static int add_san(X509 *x) {
  char san[512] = "DNS:localhost,IP:127.0.0.1,IP:::1";
  char host[256];
  if (gethostname(host, sizeof host) == 0) {
    host[sizeof host - 1] = '\0';
    bool ok = host[0] != '\0';
    for (const char *p = host; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
        ok = false;
    if (ok && strcmp(host, "localhost") != 0) {
      size_t n = strlen(san);
      snprintf(san + n, sizeof san - n, ",DNS:%s", host);
    }
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
  if (!ext) return MC_ENOMEM;
  int ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? MC_OK : MC_ENOMEM;
}

static int generate(const char *cert_path, const char *key_path) {
  int rc = MC_ENOMEM;
  EVP_PKEY *pkey = NULL;
  X509 *x = NULL;
  FILE *f = NULL;
  int fd = -1;
  uint8_t serial[16];
  if (!(pkey = EVP_EC_gen("P-256"))) goto fail;
  if (!(x = X509_new())) goto fail;
  X509_set_version(x, 2);
  if (mc_random_bytes(serial, sizeof serial) < 0) goto fail;
  serial[0] &= 0x7f; /* RFC 5280 4.1.2.2: the serial is a positive integer */
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
    BN_free(bn);
    goto fail;
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), -24 * 3600);
  X509_gmtime_adj(X509_getm_notAfter(x), (long)CERT_VALID_DAYS * 24 * 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"medcall-server", -1, -1, 0);
  X509_set_issuer_name(x, name);
  if (add_san(x) < 0) goto fail;
  if (!X509_sign(x, pkey, EVP_sha256())) goto fail;
  rc = MC_EIO;
  /* The key is written 0600 from the start, never world-readable for a moment. */
  fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || !(f = fdopen(fd, "w"))) goto fail;
  fd = -1;
  if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)) goto fail;
  if (fclose(f) != 0) {
    f = NULL;
    goto fail;
  }
  f = NULL;
  if (!(f = fopen(cert_path, "w")) || !PEM_write_X509(f, x)) goto fail;
  if (fclose(f) != 0) {
    f = NULL;
    goto fail;
  }
  f = NULL;
  rc = MC_OK;
fail:
  if (f) fclose(f);
  if (fd >= 0) close(fd);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return rc;
}

int mc_server_cert_ensure(const struct mc_server_config *cfg, char *cert_out, size_t cert_cap, char *key_out,
                          size_t key_cap, char *fp_out, size_t fp_cap, bool *generated) {
  int rc;
  *generated = false;
  if (cfg->cert_path) {
    if (mc_strcpy(cert_out, cert_cap, cfg->cert_path) < 0 || mc_strcpy(key_out, key_cap, cfg->key_path) < 0)
      return MC_ETOOBIG;
    return mc_server_cert_fingerprint(cert_out, fp_out, fp_cap);
  }
  char dir[4096];
  if ((rc = mc_state_dir(cfg->state_dir, dir, sizeof dir)) < 0) return rc;
  int n1 = snprintf(cert_out, cert_cap, "%s/cert.pem", dir);
  int n2 = snprintf(key_out, key_cap, "%s/key.pem", dir);
  if (n1 < 0 || (size_t)n1 >= cert_cap || n2 < 0 || (size_t)n2 >= key_cap) return MC_ETOOBIG;
  if (access(cert_out, R_OK) != 0 || access(key_out, R_OK) != 0) {
    if ((rc = generate(cert_out, key_out)) < 0) return rc;
    *generated = true;
  }
  return mc_server_cert_fingerprint(cert_out, fp_out, fp_cap);
}
