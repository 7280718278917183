/* libFuzzer target: the policy parser (both kinds) and, for documents that
 * parse, an evaluation of a fixed request (which must succeed and give one of
 * the three decisions). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ecr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ecr_policy_context_key keys[] = {
	    {"aws:SourceIp", "10.1.2.3"},
	    {"aws:SecureTransport", "true"},
	    {"aws:CurrentTime", "2024-05-01T12:00:00Z"},
	    {"ecr:ResourceTag/env", "prod"},
	    {"aws:TagKeys", "env"},
	    {"aws:TagKeys", "team"},
	    {"my:n", "42"},
	};
	const ecr_policy_kind kinds[] = {ECR_POLICY_RESOURCE, ECR_POLICY_IDENTITY};

	for (size_t k = 0; k < 2; k++) {
		ecr_policy *p = NULL;
		if (ecr_policy_parse(&p, (const char *)data, size, kinds[k]) != 0) {
			if (p)
				__builtin_trap();
			continue;
		}
		const char *who[] = {"arn:aws:iam::111122223333:user/alice", NULL, "codebuild.amazonaws.com"};
		for (size_t w = 0; w < 3; w++) {
			ecr_policy_request req = ECR_POLICY_REQUEST_INIT;
			ecr_policy_decision d;
			req.principal_arn = who[w];
			req.action = "ecr:BatchGetImage";
			req.resource = "arn:aws:ecr:us-east-1:123456789012:repository/app";
			req.keys = keys;
			req.keys_count = sizeof(keys) / sizeof(keys[0]);
			if (ecr_policy_evaluate(&d, p, &req) != 0)
				__builtin_trap();
			if (d != ECR_POLICY_NOT_APPLICABLE && d != ECR_POLICY_ALLOW && d != ECR_POLICY_DENY)
				__builtin_trap();
		}
		ecr_policy_free(p);
	}
	return 0;
}
