/*
 * Compile-time layout check of the public structs (STYLE.md section 13):
 * abi/layout.h, written by bindings/gen/gen_layout.py at the last release,
 * asserts the offset of every field and a minimum size of every public
 * struct. Appending fields to a versioned options struct compiles; inserting,
 * removing, reordering or retyping a field fails the build. The program
 * itself also prints the sizes it was built with (for the test log).
 */
#include <stdio.h>

#include <ecr.h>
#include <ecr/sys/alloc.h>
#include <ecr/sys/blob_store.h>
#include <ecr/sys/meta_store.h>

#include "../../abi/layout.h"

int main(void)
{
	printf("ecr_registry_options: %zu bytes, ecr_server_options: %zu bytes, ecr_buf: %zu bytes\n",
		sizeof(ecr_registry_options), sizeof(ecr_server_options), sizeof(ecr_buf));
	printf("layout of the public structs matches abi/layout.h\n");
	return 0;
}
