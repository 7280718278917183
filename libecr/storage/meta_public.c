/* placeholder: public registry metadata (helper A replaces this file) */
typedef int ecr__meta_public_placeholder;
