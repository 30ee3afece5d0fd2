/* Self-test fixture for scripts/check-circles.sh: b.c calls back into a.c. */
int fix_a_done(int x);
int fix_b_work(int x);

int fix_b_work(int x)
{
    return fix_a_done(x * 2);
}
