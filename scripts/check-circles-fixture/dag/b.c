/*
 * Self-test fixture for scripts/check-circles.sh: b.c uses only its own static
 * helper() and defines fix_b_unused(), which nothing calls: neither makes an
 * edge back to a.c.
 */
int fix_b_work(int x);
int fix_b_unused(int x);

static int __attribute__((noinline)) helper(int x)
{
    return x * 2;
}

int fix_b_work(int x)
{
    return helper(x) + 1;
}

int fix_b_unused(int x)
{
    return x;
}
