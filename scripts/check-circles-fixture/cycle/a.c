/* Self-test fixture for scripts/check-circles.sh: a.c and b.c call each other. */
int fix_b_work(int x);
int fix_a_done(int x);

int fix_a_done(int x)
{
    return x + 1;
}

int fix_a_start(int x);
int fix_a_start(int x)
{
    return fix_b_work(x);
}
