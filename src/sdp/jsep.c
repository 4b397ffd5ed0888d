#include "sdp/sdp.h"
