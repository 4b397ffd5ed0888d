#include "srtp/srtp.h"
