/* libpq through the lazy loader (lazy.h): include this instead of <libpq-fe.h>.
 * PQconninfoParse() (the first call of the PostgreSQL store) loads libpq itself:
 * when it cannot be loaded it RETURNS the error code from the calling function,
 * which must therefore return int (the error is set: ECR_ENOTSUPPORTED, dlerror()). */
#ifndef ECR_CORE_LAZY_PQ_H
#define ECR_CORE_LAZY_PQ_H

#include "lazy.h"

#include <libpq-fe.h>

/* clang-format off */
#define ECR__PQ_FUNCS(X) \
	X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) X(PQconninfoFree) X(PQconninfoParse) \
	X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQfinish) X(PQfreemem) X(PQftype) X(PQgetResult) \
	X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQisthreadsafe) X(PQnfields) X(PQntuples) \
	X(PQresultErrorField) X(PQresultStatus) X(PQsendQuery) X(PQsetNoticeProcessor) X(PQstatus) \
	X(PQtransactionStatus)
/* clang-format on */

#define ECR__LAZY_PQ_FIELD(f) __typeof__(&f) f;
struct ecr__pq_api {
	ECR__PQ_FUNCS(ECR__LAZY_PQ_FIELD)
};
extern struct ecr__pq_api ecr__pq_api;

/* NULL-tolerant before the load */
void ecr__lazy_PQclear(PGresult *r);
void ecr__lazy_PQfinish(PGconn *c);
void ecr__lazy_PQfreemem(void *p);
void ecr__lazy_PQconninfoFree(PQconninfoOption *o);

#ifndef ECR__LAZY_IMPL
#define PQconninfoParse(conninfo, errmsg)                                                                              \
	__extension__({                                                                                                \
		int ecr__lazy_rc_ = ecr__lazy_load(ECR__LAZY_PQ);                                                      \
		if (ecr__lazy_rc_ < 0)                                                                                 \
			return ecr__lazy_rc_;                                                                          \
		(*ecr__pq_api.PQconninfoParse)(conninfo, errmsg);                                                      \
	})
#define PQclear ecr__lazy_PQclear
#define PQcmdStatus (*ecr__pq_api.PQcmdStatus)
#define PQcmdTuples (*ecr__pq_api.PQcmdTuples)
#define PQconnectdbParams (*ecr__pq_api.PQconnectdbParams)
#define PQconninfoFree ecr__lazy_PQconninfoFree
#define PQerrorMessage (*ecr__pq_api.PQerrorMessage)
#define PQexec (*ecr__pq_api.PQexec)
#define PQexecParams (*ecr__pq_api.PQexecParams)
#define PQfinish ecr__lazy_PQfinish
#define PQfreemem ecr__lazy_PQfreemem
#define PQftype (*ecr__pq_api.PQftype)
#define PQgetResult (*ecr__pq_api.PQgetResult)
#define PQgetisnull (*ecr__pq_api.PQgetisnull)
#define PQgetlength (*ecr__pq_api.PQgetlength)
#define PQgetvalue (*ecr__pq_api.PQgetvalue)
#define PQisthreadsafe (*ecr__pq_api.PQisthreadsafe)
#define PQnfields (*ecr__pq_api.PQnfields)
#define PQntuples (*ecr__pq_api.PQntuples)
#define PQresultErrorField (*ecr__pq_api.PQresultErrorField)
#define PQresultStatus (*ecr__pq_api.PQresultStatus)
#define PQsendQuery (*ecr__pq_api.PQsendQuery)
#define PQsetNoticeProcessor (*ecr__pq_api.PQsetNoticeProcessor)
#define PQstatus (*ecr__pq_api.PQstatus)
#define PQtransactionStatus (*ecr__pq_api.PQtransactionStatus)
#endif

#endif
