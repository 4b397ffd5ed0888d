#include "signal/signal.h"
