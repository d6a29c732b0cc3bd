/* leak_check.h -- cmocka setup/teardown pair that fails a test which leaves
 * allocations made through herald_xmalloc (common/alloc.h) unfreed. */
#ifndef HERALD_LEAK_CHECK_H
#define HERALD_LEAK_CHECK_H

int leak_check__setup(void **state);
int leak_check__teardown(void **state);

#endif
