#include "dtls/dtls.h"
