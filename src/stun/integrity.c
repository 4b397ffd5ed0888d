/* STUN credentials, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT
 * (RFC 8489 9, 14.5-14.7), on OpenSSL and zlib. */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include "stun/stun_private.h"

uint32_t mc_stun_fingerprint_value(const uint8_t *buf, size_t len) {
  uLong crc = crc32(0L, Z_NULL, 0);
  /* zlib takes uInt lengths; STUN messages are at most 20 + 65535 bytes. */
  while (len > 0) {
    uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
    crc = crc32(crc, buf, chunk);
    buf += chunk;
    len -= chunk;
  }
  return (uint32_t)crc ^ MC_STUN_FINGERPRINT_XOR;
}

/* Fetching HMAC and its digest by name costs more than hashing a STUN
 * message, so two configured templates are made once and duplicated per
 * call (EVP_MAC_CTX_dup only reads the template: safe across threads). */
static EVP_MAC_CTX *hmac_sha1_tmpl, *hmac_sha256_tmpl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static EVP_MAC_CTX *make_template(EVP_MAC *mac, const char *digest) {
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
  if (!ctx) return NULL;
  OSSL_PARAM params[2];
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
  params[1] = OSSL_PARAM_construct_end();
  if (!EVP_MAC_CTX_set_params(ctx, params)) {
    EVP_MAC_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static void hmac_setup(void) {
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (!mac) return;
  hmac_sha1_tmpl = make_template(mac, "SHA1");
  hmac_sha256_tmpl = make_template(mac, "SHA256");
  EVP_MAC_free(mac); /* the contexts hold their own reference */
}

int mc_stun_hmac(const char *md_name, const uint8_t *key, size_t key_len, const uint8_t header[MC_STUN_HEADER_LEN],
                 uint16_t length_field, const uint8_t *body, size_t body_len, uint8_t out[32]) {
  int err = MC_EINVAL;
  EVP_MAC_CTX *ctx = NULL;
  uint8_t hdr[MC_STUN_HEADER_LEN];
  size_t out_len = 0;
  /* An empty key is legal HMAC input but OpenSSL wants a non-NULL pointer. */
  static const uint8_t empty_key[1] = {0};
  if (!key) {
    if (key_len) goto fail;
    key = empty_key;
  }

  memcpy(hdr, header, MC_STUN_HEADER_LEN);
  mc_put_be16(hdr + 2, length_field);

  err = MC_ENOMEM;
  pthread_once(&hmac_once, hmac_setup);
  const EVP_MAC_CTX *tmpl = strcmp(md_name, "SHA256") == 0 ? hmac_sha256_tmpl : hmac_sha1_tmpl;
  if (!tmpl) goto fail;
  ctx = EVP_MAC_CTX_dup(tmpl);
  if (!ctx) goto fail;
  err = MC_EIO;
  if (!EVP_MAC_init(ctx, key, key_len, NULL)) goto fail;
  if (!EVP_MAC_update(ctx, hdr, sizeof hdr)) goto fail;
  if (body_len && !EVP_MAC_update(ctx, body, body_len)) goto fail;
  if (!EVP_MAC_final(ctx, out, &out_len, 32)) goto fail;
  err = MC_OK;
fail:
  EVP_MAC_CTX_free(ctx);
  return err;
}

/* RFC 8489 9.2.2: key = MD5(username ":" realm ":" OpaqueString(password)).
 * The caller passes strings already processed (OpaqueString is identity for
 * ASCII; RFC 5769 2.4 shows a password after SASLprep). */
static int long_term_key(const EVP_MD *md, const char *username, const char *realm, const char *password,
                         uint8_t *out, unsigned expect_len) {
  int err = MC_EINVAL;
  EVP_MD_CTX *ctx = NULL;
  unsigned out_len = 0;
  if (!username || !realm || !password || !out) goto fail;
  err = MC_ENOMEM;
  ctx = EVP_MD_CTX_new();
  if (!ctx) goto fail;
  err = MC_EIO;
  if (!EVP_DigestInit_ex(ctx, md, NULL)) goto fail;
  if (!EVP_DigestUpdate(ctx, username, strlen(username)) || !EVP_DigestUpdate(ctx, ":", 1) ||
      !EVP_DigestUpdate(ctx, realm, strlen(realm)) || !EVP_DigestUpdate(ctx, ":", 1) ||
      !EVP_DigestUpdate(ctx, password, strlen(password)))
    goto fail;
  if (!EVP_DigestFinal_ex(ctx, out, &out_len) || out_len != expect_len) goto fail;
  err = MC_OK;
fail:
  EVP_MD_CTX_free(ctx);
  return err;
}

int mc_stun_long_term_key(const char *username, const char *realm, const char *password, uint8_t out[16]) {
  return long_term_key(EVP_md5(), username, realm, password, out, 16);
}

/* RFC 8489 9.2.2 with PASSWORD-ALGORITHM SHA-256 (18.5.1.2). */
int mc_stun_long_term_key_sha256(const char *username, const char *realm, const char *password, uint8_t out[32]) {
  return long_term_key(EVP_sha256(), username, realm, password, out, 32);
}

/* RFC 8489 14.5 / 14.6: the HMAC covers the message up to the integrity
 * attribute, with the header length field set as if the message ended just
 * after it. */
int mc_stun_check_integrity(const uint8_t *buf, size_t len, const mc_stun_msg *msg, const uint8_t *key,
                            size_t key_len) {
  if (!buf || !msg || len < MC_STUN_HEADER_LEN) return MC_EINVAL;
  size_t off;
  size_t mac_len;
  bool sha256;
  if (msg->integrity_sha256_offset) {
    off = msg->integrity_sha256_offset;
    sha256 = true;
  } else if (msg->integrity_offset) {
    off = msg->integrity_offset;
    sha256 = false;
  } else {
    return MC_ENOTFOUND;
  }
  /* The offsets come from mc_stun_parse over these same bytes, but a caller
   * could pair a message with another buffer: check again. */
  if (off < MC_STUN_HEADER_LEN || off > len || len - off < 4) return MC_EINVAL;
  mac_len = mc_get_be16(buf + off + 2);
  if (mac_len > 32 || mac_len > len - off - 4 || (!sha256 && mac_len != 20) || mac_len < 16) return MC_EINVAL;

  uint8_t mac[32];
  int err = mc_stun_hmac(sha256 ? "SHA256" : "SHA1", key, key_len, buf, (uint16_t)(off - MC_STUN_HEADER_LEN + 4 + mac_len),
                         buf + MC_STUN_HEADER_LEN, off - MC_STUN_HEADER_LEN, mac);
  if (err < 0) return err;
  /* RFC 8489 14.6: a truncated SHA-256 MAC is its leading bytes. */
  if (!mc_secure_equal(mac, buf + off + 4, mac_len)) {
    MC_LOGD("stun", "integrity mismatch alg=%s", sha256 ? "sha256" : "sha1");
    return MC_EAUTH;
  }
  return MC_OK;
}
