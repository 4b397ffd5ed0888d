#include "sctp/sctp.h"
