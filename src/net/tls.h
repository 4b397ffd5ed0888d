/* Private to src/net: the OpenSSL side of TLS client streams. */
#ifndef MC_NET_TLS_H
#define MC_NET_TLS_H

#include <openssl/ssl.h>

#include "net/net.h"

/* A client SSL over a memory BIO pair, set up to verify `to` (or server_name)
 * against the default trust store unless insecure. *rbio receives bytes from
 * the network, *wbio holds bytes to send. */
int mc_tls_client_new(const mc_addr *to, const char *server_name, bool insecure, SSL **ssl_out, BIO **rbio,
                      BIO **wbio);
/* One sentence for a person after the handshake failed, or (up) the
 * connection broke after it (a bad record, an alert). */
void mc_tls_failure_text(SSL *ssl, int ssl_err, bool up, const mc_addr *to, char *buf, size_t cap);

#endif
