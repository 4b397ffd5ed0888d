/* medcall error codes: every function that can fail returns 0 or one of these. */
#ifndef MEDCALL_ERRORS_H
#define MEDCALL_ERRORS_H

enum mc_error {
  MC_OK = 0,
  MC_EINVAL = -1,     /* an argument was out of range or malformed */
  MC_ENOMEM = -2,     /* allocation failed */
  MC_EPARSE = -3,     /* input bytes did not parse */
  MC_ETOOBIG = -4,    /* output did not fit the buffer given */
  MC_ENOTFOUND = -5,  /* a name, attribute or entry was not there */
  MC_EAUTH = -6,      /* integrity or credentials check failed */
  MC_ETIMEDOUT = -7,  /* no answer before the deadline */
  MC_EIO = -8,        /* a socket or system call failed */
  MC_ESTATE = -9,     /* the call is not valid in the current state */
  MC_ECLOSED = -10,   /* the object is closed or closing */
  MC_EREFUSED = -11,  /* the peer or server refused (error response) */
  MC_ETLS = -12,      /* TLS handshake or certificate verification failed */
  MC_ERESOLVE = -13,  /* name resolution failed */
  MC_EAGAIN = -14,    /* full or busy now: try again later */
};

/* A short English description of an error code; never NULL. */
const char *mc_strerror(int err);

#endif
