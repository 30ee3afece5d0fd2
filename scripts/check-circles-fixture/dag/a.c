/*
 * Self-test fixture for scripts/check-circles.sh: a.c calls b.c, never the
 * other way. Both files have a static helper named helper(), which must make
 * no edge.
 */
int fix_b_work(int x);
int fix_a_start(int x);

static int __attribute__((noinline)) helper(int x)
{
    return x - 1;
}

int fix_a_start(int x)
{
    return fix_b_work(helper(x));
}
