/*
 * sooth's instruction counter: a QEMU TCG plugin that counts the Cortex-M4F
 * instructions a firmware executes, by class, and a cycle estimate from the
 * Cortex-M4 TRM's timings (the model is written out in firmware/cost/README.md).
 *
 * Build (qemu-plugin.h of exactly the installed QEMU's version; no glib):
 *   gcc -shared -fPIC -O2 -I<qemu source>/include/qemu -o libsooth-cost.so plugin.c
 * Run:
 *   qemu-system-arm ... -plugin ./libsooth-cost.so,mark=0xADDR -d plugin -D counts.txt
 * Each time the instruction at `mark` (the firmware's `cost_mark`) executes,
 * one line of cumulative counters is printed:
 *   mark=N insns=... cycles=... taken_branches=... flops=... fp_arith=... ...
 * and one `total` line at exit. Differences of consecutive marks measure
 * the code between them.
 *
 * Counting is per translation block (one callback per executed block, the
 * block's counts precomputed at translation); a block left early (only by
 * an exception, which the measured code has none of) would count in full.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* Instruction classes. The first seven are the report's; the rest refine
 * them for the cycle model (and add up into the report's classes). */
enum cls {
    FP_ARITH,   /* vadd vsub vmul vneg vabs vcmp vcvt vmov(fp<->fp, imm) vsel vmax... */
    FP_MAC,     /* vmla vmls vnmla vnmls vfma vfms vnmul: 3 cycles */
    FP_DIVSQRT, /* vdiv vsqrt: 14 cycles */
    FP_LDST,    /* vldr vstr vldm vstm vpush vpop */
    FP_XFER,    /* vmov core<->fp, vmrs, vmsr: 1 cycle */
    INT,        /* data processing, multiplies, it, nop: 1 cycle */
    LDST,       /* ldr/str (all sizes), ldm/stm, push/pop */
    BRANCH,     /* b bl bx blx cbz cbnz tbb tbh, and writes to pc */
    DIV,        /* udiv sdiv */
    NCLS
};
static const char *cls_name[NCLS] = {
    "fp_arith", "fp_mac", "fp_div_sqrt", "fp_load_store", "fp_transfer",
    "integer", "load_store", "branch", "divide",
};

/* What one translation block adds when it runs. */
struct block {
    uint64_t count[NCLS];
    uint64_t insns;
    uint64_t cycles; /* without taken-branch refills (added at run time) */
    uint64_t flops;  /* f32 operations: add/sub/mul/div/sqrt 1, multiply-accumulate 2 */
    uint64_t start, end; /* [start, end) addresses */
    int ends_in_branch;
    int cond_branch_at_end; /* the last instruction may fall through */
    uint64_t executed;      /* times run (for `hot`) */
    char *text;             /* disassembly (for `hot`) */
    struct block *next;     /* every block, for `hot` */
};

/* Cycles a taken branch adds to its issue cycle: the pipeline refill P of
 * the TRM (1..3). The model takes 2; see firmware/cost/README.md. */
#define REFILL 2
/* Cycles of a hardware divide (2..12, data-dependent): the middle. */
#define DIV_CYCLES 7

static uint64_t total[NCLS], total_insns, total_cycles, total_flops, taken;
static uint64_t mark_addr = UINT64_MAX, marks;
static const struct block *previous;
static struct block *blocks;
static int hot; /* print the `hot` blocks that executed most instructions */

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Number of 32-bit words in a register list "{r4, r5, lr}" or "{s16-s31}"
 * or "{d8, d9}" (a d register is two words). */
static int list_words(const char *disas)
{
    const char *open = strchr(disas, '{');
    if (!open) {
        return 1;
    }
    int words = 0;
    const char *p = open + 1;
    while (*p && *p != '}') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (*p == '}' || !*p) {
            break;
        }
        char kind = *p;
        int first = atoi(p + 1), last = first;
        while (*p && *p != ',' && *p != '}' && *p != '-') {
            p++;
        }
        if (*p == '-') {
            p++;
            if (*p == kind) {
                p++;
            }
            last = atoi(p);
            while (*p && *p != ',' && *p != '}') {
                p++;
            }
        }
        words += (last - first + 1) * (kind == 'd' ? 2 : 1);
    }
    return words > 0 ? words : 1;
}

/* Does the operand text name the pc as a destination? */
static int writes_pc(const char *mnemonic, const char *ops)
{
    if (starts_with(mnemonic, "pop") || starts_with(mnemonic, "ldm")) {
        return strstr(ops, "pc") != NULL;
    }
    if (starts_with(mnemonic, "ldr") || starts_with(mnemonic, "mov") ||
        starts_with(mnemonic, "add")) {
        return starts_with(ops, "pc");
    }
    return 0;
}

/* Classifies one instruction; sets its issue cycles and flops. `prev_load`
 * says whether the previous instruction of the block was a single load (the
 * TRM: a load or store right after a load pipelines and costs one cycle
 * less; nothing pipelines after a store); `*is_load` says whether this one
 * is. */
static enum cls classify(const char *disas, int prev_load, int *cycles,
                         int *flops, int *is_branch, int *is_cond, int *is_load)
{
    char mnemonic[32];
    size_t n = strcspn(disas, " \t");
    if (n >= sizeof mnemonic) {
        n = sizeof mnemonic - 1;
    }
    memcpy(mnemonic, disas, n);
    mnemonic[n] = 0;
    const char *ops = disas + n;
    while (*ops == ' ' || *ops == '\t') {
        ops++;
    }
    *cycles = 1;
    *flops = 0;
    *is_branch = 0;
    *is_cond = 0;
    *is_load = 0;

    if (mnemonic[0] == 'v') {
        if (starts_with(mnemonic, "vmla") || starts_with(mnemonic, "vmls") ||
            starts_with(mnemonic, "vnmla") || starts_with(mnemonic, "vnmls") ||
            starts_with(mnemonic, "vfma") || starts_with(mnemonic, "vfms") ||
            starts_with(mnemonic, "vfnm")) {
            *cycles = 3;
            *flops = 2;
            return FP_MAC;
        }
        if (starts_with(mnemonic, "vdiv") || starts_with(mnemonic, "vsqrt")) {
            *cycles = 14;
            *flops = 1;
            return FP_DIVSQRT;
        }
        if (starts_with(mnemonic, "vldr") || starts_with(mnemonic, "vstr")) {
            *cycles = prev_load ? 1 : 2;
            *is_load = mnemonic[2] == 'l';
            return FP_LDST;
        }
        if (starts_with(mnemonic, "vldm") || starts_with(mnemonic, "vstm") ||
            starts_with(mnemonic, "vpush") || starts_with(mnemonic, "vpop")) {
            *cycles = 1 + list_words(disas);
            return FP_LDST;
        }
        if (starts_with(mnemonic, "vmrs") || starts_with(mnemonic, "vmsr")) {
            return FP_XFER;
        }
        if (starts_with(mnemonic, "vmov")) {
            /* core <-> fp moves name an r register (not the s/d ones). */
            if (ops[0] == 'r' || strstr(ops, ", r") || strstr(ops, ", ip") ||
                strstr(ops, ", lr") || starts_with(ops, "ip") ||
                starts_with(ops, "lr") || strstr(ops, ", sl") ||
                strstr(ops, ", fp") || starts_with(ops, "sl") ||
                starts_with(ops, "fp")) {
                return FP_XFER;
            }
            return FP_ARITH;
        }
        if (starts_with(mnemonic, "vadd") || starts_with(mnemonic, "vsub") ||
            starts_with(mnemonic, "vmul") || starts_with(mnemonic, "vnmul")) {
            *flops = 1;
            return FP_ARITH;
        }
        return FP_ARITH; /* vneg vabs vcmp vcvt vsel vmaxnm ... */
    }
    if (starts_with(mnemonic, "udiv") || starts_with(mnemonic, "sdiv")) {
        *cycles = DIV_CYCLES;
        return DIV;
    }
    /* Branches: b<cond>, bl, blx, bx, cbz, cbnz, tbb, tbh, and pc writes.
     * Calls are exactly "bl" and "blx"; "blt", "ble", "bls", "blo" are
     * conditional branches. */
    int call = strcmp(mnemonic, "bl") == 0 || starts_with(mnemonic, "blx");
    if (strcmp(mnemonic, "b") == 0 || strcmp(mnemonic, "b.w") == 0 ||
        strcmp(mnemonic, "b.n") == 0 || call ||
        starts_with(mnemonic, "bx") || starts_with(mnemonic, "cbz") ||
        starts_with(mnemonic, "cbnz") || starts_with(mnemonic, "tbb") ||
        starts_with(mnemonic, "tbh") ||
        (mnemonic[0] == 'b' && strlen(mnemonic) >= 3 &&
         strcmp(mnemonic, "bic") != 0 && !starts_with(mnemonic, "bic") &&
         !starts_with(mnemonic, "bfi") && !starts_with(mnemonic, "bfc") &&
         !starts_with(mnemonic, "bkpt"))) {
        *is_branch = 1;
        /* conditional: b<cond>, cbz, cbnz (bl/bx/blx/tb* always branch) */
        *is_cond = !(strcmp(mnemonic, "b") == 0 || strcmp(mnemonic, "b.w") == 0 ||
                     strcmp(mnemonic, "b.n") == 0 || call ||
                     starts_with(mnemonic, "bx") || starts_with(mnemonic, "tb"));
        if (starts_with(mnemonic, "tb")) {
            *cycles = 2; /* a table load, then the branch */
        }
        return BRANCH;
    }
    if (writes_pc(mnemonic, ops)) {
        *is_branch = 1;
        if (starts_with(mnemonic, "pop") || starts_with(mnemonic, "ldm")) {
            *cycles = 1 + list_words(disas);
        } else if (starts_with(mnemonic, "ldr")) {
            *cycles = 2;
        }
        return BRANCH;
    }
    if (starts_with(mnemonic, "ldm") || starts_with(mnemonic, "stm") ||
        starts_with(mnemonic, "push") || starts_with(mnemonic, "pop")) {
        *cycles = 1 + list_words(disas);
        return LDST;
    }
    if (starts_with(mnemonic, "ldrd") || starts_with(mnemonic, "strd")) {
        *cycles = prev_load ? 2 : 3; /* two words */
        return LDST;
    }
    if (starts_with(mnemonic, "ldr")) {
        *cycles = prev_load ? 1 : 2;
        *is_load = 1;
        return LDST;
    }
    if (starts_with(mnemonic, "str")) {
        *cycles = 1;
        return LDST;
    }
    if (starts_with(mnemonic, "mla") || starts_with(mnemonic, "mls")) {
        *cycles = 2;
        return INT;
    }
    return INT;
}

static void print_counts(const char *label)
{
    char line[1024];
    int len = snprintf(line, sizeof line,
                       "%s insns=%" PRIu64 " cycles=%" PRIu64
                       " taken_branches=%" PRIu64 " flops=%" PRIu64,
                       label, total_insns, total_cycles + taken * REFILL, taken,
                       total_flops);
    for (int c = 0; c < NCLS; c++) {
        len += snprintf(line + len, sizeof line - len, " %s=%" PRIu64,
                        cls_name[c], total[c]);
    }
    snprintf(line + len, sizeof line - len, "\n");
    qemu_plugin_outs(line);
}

static void block_exec(unsigned int vcpu, void *udata)
{
    struct block *b = udata;
    b->executed++;
    (void)vcpu;
    /* The previous block ended in a branch that was taken if this block
     * does not start where it ended (an unconditional one always is). */
    if (previous && previous->ends_in_branch &&
        (!previous->cond_branch_at_end || b->start != previous->end)) {
        taken++;
    }
    for (int c = 0; c < NCLS; c++) {
        total[c] += b->count[c];
    }
    total_insns += b->insns;
    total_cycles += b->cycles;
    total_flops += b->flops;
    previous = b;
}

static void mark_exec(unsigned int vcpu, void *udata)
{
    char label[32];
    (void)vcpu;
    (void)udata;
    snprintf(label, sizeof label, "mark=%" PRIu64, ++marks);
    print_counts(label);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    struct block *b = calloc(1, sizeof *b);
    int prev_load = 0;
    size_t text_len = 0;
    b->start = qemu_plugin_tb_vaddr(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        char *disas = qemu_plugin_insn_disas(insn);
        int cycles, flops, is_branch, is_cond, is_load;
        enum cls c = classify(disas ? disas : "", prev_load, &cycles, &flops,
                              &is_branch, &is_cond, &is_load);
        b->count[c]++;
        b->insns++;
        b->cycles += cycles;
        b->flops += flops;
        prev_load = is_load;
        if (i + 1 == n) {
            b->ends_in_branch = is_branch;
            b->cond_branch_at_end = is_cond;
            b->end = qemu_plugin_insn_vaddr(insn) + qemu_plugin_insn_size(insn);
        }
        if (qemu_plugin_insn_vaddr(insn) == mark_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, mark_exec,
                                                   QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        if (hot && disas) {
            char line[160];
            int len = snprintf(line, sizeof line, "    %08" PRIx64 "  %s\n",
                               qemu_plugin_insn_vaddr(insn), disas);
            b->text = realloc(b->text, text_len + len + 1);
            memcpy(b->text + text_len, line, len + 1);
            text_len += len;
        }
        free(disas);
    }
    b->next = blocks;
    blocks = b;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, block_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

static int by_work(const void *a, const void *b)
{
    const struct block *x = *(struct block *const *)a, *y = *(struct block *const *)b;
    uint64_t wx = x->executed * x->cycles, wy = y->executed * y->cycles;
    return wx < wy ? 1 : wx > wy ? -1 : 0;
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
    (void)id;
    (void)p;
    print_counts("total");
    if (hot) {
        size_t n = 0;
        for (struct block *b = blocks; b; b = b->next) {
            n++;
        }
        struct block **all = calloc(n, sizeof *all);
        n = 0;
        for (struct block *b = blocks; b; b = b->next) {
            all[n++] = b;
        }
        qsort(all, n, sizeof *all, by_work);
        for (size_t i = 0; i < n && i < (size_t)hot; i++) {
            char line[160];
            snprintf(line, sizeof line,
                     "hot block %08" PRIx64 ": executed %" PRIu64 " times, %" PRIu64
                     " model cycles each (%.1f%% of all)\n",
                     all[i]->start, all[i]->executed, all[i]->cycles,
                     100.0 * all[i]->executed * all[i]->cycles / (double)total_cycles);
            qemu_plugin_outs(line);
            qemu_plugin_outs(all[i]->text ? all[i]->text : "");
        }
        free(all);
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info, int argc,
                                           char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (starts_with(argv[i], "mark=")) {
            /* Thumb addresses: the symbol's low bit is the mode bit. */
            mark_addr = strtoull(argv[i] + 5, NULL, 0) & ~(uint64_t)1;
        } else if (starts_with(argv[i], "hot=")) {
            hot = atoi(argv[i] + 4);
        } else {
            fprintf(stderr, "sooth-cost plugin: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
