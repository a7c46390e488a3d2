/* test_ratelog.c — the log line budget: per_window lines, then silence
 * counted, and the count handed to the first line of the next window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelog.h"

static void test_budget(void **state)
{
    (void)state;
    lp_ratelog r;
    uint64_t held;
    lp_ratelog_init(&r, 3, 1000);
    for (int i = 0; i < 3; i++) {
        assert_true(lp_ratelog_allow(&r, 5000 + i, &held));
        assert_int_equal(held, 0);
    }
    for (int i = 0; i < 1000; i++) /* a flood within the window: not one line */
        assert_false(lp_ratelog_allow(&r, 5100 + i / 10, &held));
    assert_true(lp_ratelog_allow(&r, 6000, &held)); /* the next window */
    assert_int_equal(held, 1000);
    assert_true(lp_ratelog_allow(&r, 6001, &held));
    assert_int_equal(held, 0);
    assert_true(lp_ratelog_allow(&r, 100, &held)); /* the clock went back: a new window */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_budget)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
