/* placeholder: Markdown to sanitised HTML (helper D replaces this file) */
typedef int ecr__markdown_placeholder;
