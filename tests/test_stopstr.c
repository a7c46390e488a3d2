/* Stop strings: nothing of a stop string (or anything after it) is ever
 * released, text that could begin one is held back only as long as needed,
 * and stops split across streamed pieces are caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "stopstr.h"

/* Feed each piece; concatenate what is released; return the total. */
static void feed_all(lp_stopstr *f, const char *const *pieces, char *out)
{
    size_t n, k = 0;
    for (size_t i = 0; pieces[i]; i++) {
        const char *r = lp_stopstr_feed(f, pieces[i], strlen(pieces[i]), &n);
        assert_non_null(r);
        memcpy(out + k, r, n);
        k += n;
    }
    const char *r = lp_stopstr_flush(f, &n);
    memcpy(out + k, r, n);
    out[k + n] = 0;
}

static void check(const char *const *stops, size_t n_stops, const char *const *pieces,
                  const char *want, bool want_hit)
{
    lp_stopstr f;
    char out[256];
    assert_int_equal(lp_stopstr_init(&f, stops, n_stops), 0);
    feed_all(&f, pieces, out);
    assert_string_equal(out, want);
    assert_int_equal(f.hit, want_hit);
    lp_stopstr_free(&f);
}

static void test_split_stop(void **state)
{
    (void)state;
    const char *stops[] = {"END"};
    check(stops, 1, (const char *[]){"abcE", "N", "Dxyz", "more", NULL}, "abc", true);
    check(stops, 1, (const char *[]){"abcE", "Nd", NULL}, "abcENd", false);
    check(stops, 1, (const char *[]){"E", "E", "END", NULL}, "EE", true);
}

static void test_held_back_then_released(void **state)
{
    (void)state;
    lp_stopstr f;
    const char *stops[] = {"\n\n"};
    size_t n;
    assert_int_equal(lp_stopstr_init(&f, stops, 1), 0);
    lp_stopstr_feed(&f, "Hello", 5, &n);
    assert_int_equal(n, 5);
    lp_stopstr_feed(&f, "\n", 1, &n);
    assert_int_equal(n, 0); /* might be the start of "\n\n" */
    const char *r = lp_stopstr_feed(&f, "world", 5, &n);
    assert_int_equal(n, 6);
    assert_memory_equal(r, "\nworld", 6);
    lp_stopstr_feed(&f, "\n", 1, &n);
    lp_stopstr_feed(&f, "\nafter", 6, &n);
    assert_int_equal(n, 0);
    assert_true(f.hit);
    lp_stopstr_flush(&f, &n);
    assert_int_equal(n, 0);
    lp_stopstr_free(&f);
}

static void test_several_stops(void **state)
{
    (void)state;
    const char *stops[] = {"abc", "b", ""};
    /* "abc" starts before "b": the earliest stop wins */
    check(stops, 3, (const char *[]){"xa", "bc", NULL}, "x", true);
    check(stops, 3, (const char *[]){"xa", "d", "b", NULL}, "xad", true);
    const char *none[] = {"zzz"};
    check(none, 1, (const char *[]){"plain ", "text z", "z", NULL}, "plain text zz", false);
    check(NULL, 0, (const char *[]){"no stops", NULL}, "no stops", false);
}

static void test_too_many(void **state)
{
    (void)state;
    const char *stops[LP_STOPSTR_MAX + 1];
    for (size_t i = 0; i <= LP_STOPSTR_MAX; i++)
        stops[i] = "x";
    lp_stopstr f;
    assert_int_equal(lp_stopstr_init(&f, stops, LP_STOPSTR_MAX + 1), -1);
    lp_stopstr_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_stop),
        cmocka_unit_test(test_held_back_then_released),
        cmocka_unit_test(test_several_stops),
        cmocka_unit_test(test_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
