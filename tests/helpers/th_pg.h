/* A throwaway PostgreSQL server for one test file: ../shared/services/postgres-test-server.sh (its path in
 * PG_TEST_SERVER) started on a free port, with a guard process (its own session) that stops it when the test
 * process ends, however it ends, even killed by a runner's timeout. */
#ifndef TH_PG_H
#define TH_PG_H

/* Start the server; 0 when it runs, -1 when it cannot (no script or binaries: skip). */
int th_pg_start(void);
/* Stop it now (through the guard) and wait; prints how long it took. No-op when not started. */
void th_pg_finish(void);
/* "postgresql://postgres@127.0.0.1:<port>/<database>" of the running server; its port. */
const char *th_pg_url(void);
int th_pg_port(void);
/* pg_ctl on the running cluster ("stop", "start"), as the postgres user when root: 0 on success. */
int th_pg_ctl(const char *action);
/* Monotonic seconds. */
double th_now_s(void);

#endif
