/* options.h -- herald-bench's command line: parsing into struct
 * bench_options (defaults included), checking it, and the usage text.
 * Owns: nothing; the strings in the options point into argv. */
#ifndef HERALD_BENCH_OPTIONS_H
#define HERALD_BENCH_OPTIONS_H

#include <stdio.h>

#include "bench.h"

/* Fills opt from the command line over the defaults. Returns 0, 1 after
 * --help, or -1 on a bad command line (reported on stderr). */
int options__parse(int argc, char **argv, struct bench_options *opt);

/* Refuses, on stderr, options that cannot make a run. Returns 0 or -1. */
int options__check(const struct bench_options *opt);

/* Prints the usage text, options and protocols. */
void options__usage(FILE *out);

#endif
