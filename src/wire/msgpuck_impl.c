/* msgpuck is a header-only library: exactly one translation unit defines
 * MP_SOURCE to emit its out-of-line functions and tables. */
#define MP_SOURCE 1
#include <msgpuck.h>
