"""The theorem catalogue: one stable id per claim. Transcripts, the spec and test names use these ids."""

from __future__ import annotations

from dataclasses import replace

from proofs import commutation, fidelity, floating, order, refutations, samplers, sanity, speculative, symbolic
from proofs.core import Theorem
from proofs.samplers import MAX_N


def both(*parts):
    def run(ctx):
        for part in parts:
            part(ctx)
    return run


def faithful(*rules):
    """The fidelity steps of a theorem: each encoded rule it reads, evaluated on concrete rows, keeps
    what spec.target keeps (proofs.fidelity; one evaluation per rule and run)."""
    def run(ctx):
        for rule in rules:
            fidelity.shared(ctx, rule)
    return run


PAPER = "proved (modulo 1 paper step)"  # one step argued on paper, not machine-checked (see its transcript)
REAL_ROW = "z is a real vector of length n >= 1 (finite entries; -inf is the limit case)"
SHIFT = "c is one real number per row (for log-probabilities, c = logsumexp(z))"
SAMPLERS_NOTE = ("log and exp are uninterpreted functions (equal arguments, equal values); the logits' order "
                 "comes from y_i = z_i - c")
DISTRIBUTION = (" Then the distribution: SymPy, symbolic n, a keep mask m_j: m_i exp(z_i - c) / sum_j m_j "
                "exp(z_j - c) = m_i exp(z_i) / sum_j m_j exp(z_j), so over the (equal) keep-sets the softmax of z - c "
                "is that of z.")
XTC_DISTRIBUTION = (" The mixture is compared in probability form (p renormalised over the kept); the SymPy "
                    "masked-softmax step (c = logsumexp(z)) identifies it with the softmax of the logits over the "
                    "kept, the same for z - c.")
TEMPERATURE_DISTRIBUTION = ("; then one query for the same n (a copy of the row per n), given keep(z) = keep(z / T): "
                            "temperature then top-n-sigma gives softmax(z / T) over keep(z / T), top-n-sigma then "
                            "temperature softmax(z / T) over keep(z) (exp an uninterpreted function E, masked sums), "
                            "and the two are equal")
PROB_METHOD = (f"Z3 over the reals. Lemma, one query per row length n = 1..{MAX_N} (nonlinear): with weights "
               "e_i = exp(z_i) > 0 and shifted weights f_i = t e_i, t = exp(-c) > 0, the probabilities f / sum(f) "
               "are e / sum(e) (the query of filters-shift's top-p lemma). Then one query for every n (a copy of "
               "the row per n), every parameter symbolic: given the lemma, the rule as the spec states it "
               "(spec/transforms.py) gives the same result on both rows; the rule reads the probabilities, "
               "their logs and the logits' order, so this is where reading anything else would fail.")

THEOREMS: tuple[Theorem, ...] = (
    Theorem(
        "softmax-shift", "softmax is invariant under a per-row shift",
        "Subtracting the same constant from every logit leaves the softmax probabilities unchanged.",
        r"\forall n \ge 1,\ z \in \mathbb{R}^n,\ c \in \mathbb{R}:\quad "
        r"\frac{e^{z_i - c}}{\sum_{j=1}^{n} e^{z_j - c}} = \frac{e^{z_i}}{\sum_{j=1}^{n} e^{z_j}}",
        (REAL_ROW, SHIFT, "n is a symbolic positive integer; also every concrete n from 1 to 16"),
        "SymPy, symbolic n (IndexedBase + Sum), and every concrete n = 1..16", "proved",
        both(faithful("softmax"), symbolic.softmax_shift, sanity.softmax_shift),
        "A categorical sampler may be fed logits or any per-row shift of them (log-probabilities "
        "included): the target distribution is the same."),
    Theorem(
        "log-softmax", "log-probabilities are logits minus logsumexp",
        "The log of the softmax probability of token i is z_i minus logsumexp(z).",
        r"\log \frac{e^{z_i}}{\sum_{j=1}^{n} e^{z_j}} = z_i - \log \sum_{j=1}^{n} e^{z_j}",
        (REAL_ROW, "n is a symbolic positive integer",
         "no force=True rewriting: the log of a quotient is split only for positive factors"),
        "SymPy, symbolic n", "proved", both(faithful("softmax"), symbolic.log_softmax, sanity.log_softmax),
        "What mlx-lm passes to its samplers, z - logsumexp(z), is exactly the log-probabilities."),
    Theorem(
        "softmax-of-logprobs", "sampling from log-probabilities = sampling from logits",
        "Applying softmax to the log-probabilities gives back the same distribution as softmax of the logits.",
        r"\operatorname{softmax}\big(z - \operatorname{logsumexp}(z)\big)_i = \operatorname{softmax}(z)_i",
        (REAL_ROW, "n is a symbolic positive integer"),
        "SymPy, symbolic n", "proved",
        both(faithful("softmax"), symbolic.softmax_of_logprobs, sanity.softmax_of_logprobs),
        "Categorical sampling on log-probabilities targets exactly the distribution of sampling on logits."),
    Theorem(
        "temperature-shift", "temperature commutes with the shift; it never moves the argmax",
        "For T > 0, softmax((z - c)/T) = softmax(z/T), and the first-index argmax of z/T is that of z.",
        r"T > 0:\quad \operatorname{softmax}\Big(\frac{z - c}{T}\Big) = \operatorname{softmax}\Big(\frac{z}{T}\Big),"
        r"\qquad \operatorname{argmax}\frac{z}{T} = \operatorname{argmax} z",
        (REAL_ROW, SHIFT, "T > 0 (T = 0 is greedy by convention, not a division)"),
        "SymPy for the softmax part (symbolic n); Z3 for the argmax part (unbounded n, arrays, quantifiers)",
        "proved", both(faithful("softmax", "first-max"), symbolic.temperature_softmax, order.temperature_argmax,
                       sanity.temperature_shift),
        "Temperature can be applied to logits or log-probabilities alike, and as T -> 0 the most "
        "likely token does not depend on the choice."),
    Theorem(
        "argmax-shift", "greedy decoding is invariant under a per-row shift",
        "The first-index argmax of z - c is the first-index argmax of z (ties go to the lowest index).",
        r"\forall n \ge 1,\ z \in \mathbb{R}^n,\ c \in \mathbb{R}:\quad "
        r"\operatorname{argmax}_{\text{first}}(z - c) = \operatorname{argmax}_{\text{first}}(z)",
        (REAL_ROW, SHIFT, "ties go to the lowest index, as in numpy, mlx and torch"),
        "Z3 over the reals. Bounded: n = 1..16 and every power of two up to --max-n, quantifier-free, "
        "one-hot encoding (first-maximum indicators via prefix flags), proved in two queries: the "
        "lemma max(z - c) = max(z) - c, then the indicator equality given it. The shifted row y_i is "
        "a fresh variable with the premise y_i = z_i - c, so c is not cancelled by writing z_i - c "
        "on both sides (z3's preprocessing may still substitute it). Unbounded: arrays, quantifiers, "
        "symbolic n; the first maximum exists (the running argmax is one: an explicit instance of the induction "
        "rule is a premise, and z3 checks base case, step and conclusion in one query) and is unique",
        "proved", both(faithful("argmax-one-hot", "first-max"), order.argmax_shift, sanity.argmax_shift),
        "Greedy decoding may be fed logits or log-probabilities (in exact arithmetic; see the "
        "floating-point theorems for rounding)."),
    Theorem(
        "greedy-logprobs", "greedy on log-probabilities = greedy on logits",
        "argmax(z - logsumexp(z)) = argmax(z): the first-index argmax is unchanged.",
        r"\operatorname{argmax}_{\text{first}}\big(z - \operatorname{logsumexp}(z)\big) = "
        r"\operatorname{argmax}_{\text{first}}(z)",
        (REAL_ROW, "logsumexp(z) is used only as one real number per row (an uninterpreted function)"),
        "Z3, unbounded n, logsumexp as an uninterpreted function of the row", "proved",
        both(faithful("first-max"), order.greedy_logprobs, sanity.greedy_logprobs),
        "An engine that hands log-probabilities to argmax picks the same token as on logits."),
    Theorem(
        "gumbel-coupling", "the same random key gives the same token from logits and log-probabilities",
        "For any noise vector g, argmax(z + g) = argmax(z - c + g) (Gumbel-max); and the inverse-CDF "
        "draw with the same uniform u picks the same token.",
        r"\forall g:\ \operatorname{argmax}(z + g) = \operatorname{argmax}(z - c + g);\qquad "
        r"\min\{k : \textstyle\sum_{j \le k} w_j > u \sum_j w_j\}"
        r" \text{ unchanged when } w \mapsto s\,w,\ s = e^{-c} > 0",
        (REAL_ROW, SHIFT, "g is any real vector (the Gumbel noise of one key)", "u in [0, 1)",
         "inverse CDF on unnormalised weights w = exp(z) > 0"),
        "Z3, unbounded n: first maximum of z + g vs z - c + g; prefix sums scaled by s > 0 (an explicit "
        "instance of the induction rule is a premise, and z3 checks base case, step and conclusion in one "
        "query), then the first crossing of u times the total", "proved",
        both(faithful("first-max"), order.gumbel_coupling, sanity.gumbel_coupling),
        "Seeded tests may compare a sampler's token on logits and on log-probabilities draw by draw, "
        "with the same key, instead of by statistics."),
    Theorem(
        "filters-shift", "top-k, top-p and min-p keep the same tokens for logits and log-probabilities",
        "The keep-sets of top-k (both tie rules), top-p and min-p are invariant under z -> z - c.",
        r"\operatorname{keep}_{\text{top-}k}(z - c) = \operatorname{keep}_{\text{top-}k}(z),\ "
        r"\operatorname{keep}_{\text{min-}p}(z - c) = \operatorname{keep}_{\text{min-}p}(z),\ "
        r"\operatorname{keep}_{\text{top-}p}(z - c) = \operatorname{keep}_{\text{top-}p}(z)",
        (REAL_ROW, SHIFT, "top-k: any k, ties kept or broken by index; min-p: any m in (0, 1]; top-p: any p"),
        "Z3. top-k: pairwise order is preserved; rank counts for n = 1..8 and for unbounded n (arrays, an "
        "explicit induction-rule instance over the count). min-p: z_i - max z is preserved (unbounded n), and "
        "the log-space rule z_i >= max z + log m keeps the same tokens as the probability-space rule "
        "p_i >= m p_max (instances of the laws of exp as premises). top-p in probability space as engines run "
        "it (rank by probability, ties by index; keep iff the mass ranked before is < p, or min_tokens_to_keep), "
        "with weights e_i = exp(z_i) > 0 and shifted weights e_i t, t = exp(-c) > 0: nonlinear real arithmetic "
        "for n = 1..6, and for unbounded n over arrays (prefix sums, induction-rule instances). Mutants that "
        "read logits or unnormalised weights are not proved (tests)", "proved",
        both(faithful("top-k", "top-p", "min-p"), order.filters_shift, sanity.filters_shift),
        "Each filter may run on logits or log-probabilities and keeps the same tokens."),
    Theorem(
        "penalty-shift", "claim: the repetition penalty is shift-invariant, in any engine's form (it is not)",
        "Claim: the sign-aware repetition penalty gives the same greedy token on logits and on "
        "log-probabilities, in each engine's form: Hugging Face transformers (generation/logits_process.py, "
        "RepetitionPenaltyLogitsProcessor: score < 0 multiplies by theta, else divides), vLLM (apply_penalties: "
        "logits > 0 divides, else multiplies), mlx-lm (sample_utils.make_repetition_penalty: < 0 multiplies) "
        "and llama.cpp (src/llama-sampler.cpp, llama_sampler_penalties_apply: logit <= 0 multiplies, else "
        "divides). False for every one of them.",
        r"\text{claim: } \operatorname{argmax}\,\mathrm{pen}_\theta(z) = "
        r"\operatorname{argmax}\,\mathrm{pen}_\theta(z - c),\quad "
        r"\mathrm{pen}_\theta(v) = \begin{cases} v\theta & v < 0\ (\text{llama.cpp: } v \le 0) \\ "
        r"v/\theta & \text{otherwise} \end{cases}",
        ("theta = 13/10, token 0 penalized, n = 2", "c ranges over [max z, max z + 1], which contains logsumexp(z)",
         "each engine's comparison as its source writes it (they differ only at v = 0, where both branches give 0)"),
        "Z3: the four formulas are one function for theta > 0; a Z3 search for a witness, re-checked in exact "
        "rational arithmetic with each engine's formula evaluated separately; Z3 on the pinned witness: greedy on "
        "the penalized log-probabilities picks token 0 for every c in [max z, max z + 1]", "refuted",
        both(faithful("penalty"), refutations.penalty_shift, sanity.penalty_shift),
        "A repetition penalty must be applied to logits (as documented), not to log-probabilities: in every "
        "engine's form, on log-probabilities it can change even the greedy token (so top-k with k = 1 keeps "
        "a different token and the target distribution's most likely token moves)."),
    Theorem(
        "temperature-order", "claim: temperature before or after top-p / min-p is the same (it is not)",
        "Claim: applying temperature before or after top-p (or min-p) gives the same keep-set. False.",
        r"\text{claim: } \operatorname{keep}_{p}\big(\operatorname{softmax}(z/T)\big) = "
        r"\operatorname{keep}_{p}\big(\operatorname{softmax}(z)\big)",
        ("n = 3, T = 1/2, logits z_i = log q_i with small integers q_i", "p and m are multiples of 1/10"),
        "Z3 search over q, p; witness re-checked in exact rational arithmetic (softmax(z/T) is "
        "proportional to q_i^2)", "refuted",
        both(refutations.temperature_order, sanity.temperature_order),
        "Engines that order temperature differently (Hugging Face and vLLM before the filters, "
        "llama.cpp and mlx-lm after) really sample from different distributions: the spec has to "
        "make the order a parameter."),
    Theorem(
        "fp-argmax-shift-exact", "claim: greedy is exactly shift-invariant in floating point (it is not)",
        "Claim: with round-to-nearest-even subtraction, first-index argmax(fl(z - c)) = argmax(z) for "
        "finite z, c. False in float16, bfloat16 and float32: two logits one ulp apart can round to the "
        "same shifted value, and the tie goes to the lower index.",
        r"\text{claim: } \operatorname{argmax}_{\text{first}}\big(\mathrm{fl}(z - c)\big) = "
        r"\operatorname{argmax}_{\text{first}}(z)",
        ("n = 2, finite numbers, c = fl(logsumexp(z)) computed in the format (certified by interval arithmetic)",
         "round-to-nearest-even subtraction in the format"),
        "A genuine log-probability witness per format: a search over rows z = (pred(z1), z1) finds one whose "
        "log-probabilities fl(z - c), c = fl(logsumexp(z)), tie; it is certified exactly (logsumexp bracketed "
        "by mpmath interval arithmetic so that c is determined, the rest in Fractions with the format as "
        "numpy / mlx define it, every value round-tripped through numpy / mlx) and confirmed by Z3's "
        "floating-point theory (bit-precise) with c pinned by the bracket", "refuted",
        both(floating.declared_formats, floating.fp_argmax_shift_exact, floating.sanity_witnesses),
        "In floating point, greedy on log-probabilities can pick a different token from greedy on logits "
        "when the top two logits are adjacent floats; see fp-greedy-exact-guard for when it cannot."),
    Theorem(
        "fp-sub-monotone", "floating-point subtraction of a constant is monotone",
        "For finite x, y, c: x <= y implies fl(x - c) <= fl(y - c) (bfloat16 and float16; float32 with --full).",
        r"x \le y \implies \mathrm{fl}(x - c) \le \mathrm{fl}(y - c)",
        ("x, y, c finite (with c = NaN the claim fails: shown)", "round-to-nearest-even"),
        "Z3 floating-point theory, per format, queries in parallel", "proved",
        both(floating.declared_formats, floating.fp_sub_monotone, floating.sanity_monotone),
        "Shifting by a constant in floating point never reverses the order of two logits; it can only "
        "merge them into a tie."),
    Theorem(
        "fp-sub-strict", "claim: floating-point subtraction keeps strict order (it does not)",
        "Claim: x < y implies fl(x - c) < fl(y - c). False: rounding can merge two values.",
        r"\text{claim: } x < y \implies \mathrm{fl}(x - c) < \mathrm{fl}(y - c)",
        ("finite normal numbers with 1 <= |x|, |y|, |c| <= 100",),
        "Z3 floating-point theory search per format; the witness re-checked exactly in the format as numpy / "
        "mlx define it (not the encoding's format table), each value round-tripped through numpy / mlx",
        "refuted",
        both(floating.declared_formats, floating.fp_sub_strict, floating.sanity_witnesses),
        "Why exact invariance fails: a strict gap between two logits can vanish after the shift."),
    Theorem(
        "fp-argmax-shift-weak", "in floating point the argmax can only move earlier, to a tied token",
        "For every n and finite z, c: the logit argmax is still a maximiser of fl(z - c), and the "
        "first-index argmax can only move to an earlier index.",
        r"k = \operatorname{argmax}_{\text{first}}(z) \implies \mathrm{fl}(z_k - c) = \max_j \mathrm{fl}(z_j - c)"
        r"\ \wedge\ \operatorname{argmax}_{\text{first}}\big(\mathrm{fl}(z - c)\big) \le k",
        ("z, c finite", "formats: bfloat16, float16 (float32 with --full)"),
        "fp-sub-monotone per format (Z3 floating-point theory), then one Z3 query per format over arrays of "
        "that format's floats and symbolic n: y[i] = f(z[i], c) with f defined as fp.sub RNE, the lemma as a "
        "universally quantified hypothesis about f (proved by the per-format query), the claim about the "
        "first maximum", "proved",
        both(floating.declared_formats, floating.fp_argmax_shift_weak, floating.sanity_weak),
        "A sampler fed float log-probabilities never picks a token that was not a (rounded) maximiser."),
    Theorem(
        "fp-greedy-exact-guard", "greedy on float log-probabilities is exact when max(z) <= c < 2 max(z)",
        "If c >= max(z) and 2 max(z) > c > 0 (the Sterbenz zone), first-index argmax(fl(z - c)) = argmax(z) "
        "exactly, for every n. For log-probabilities, c is the row's computed logsumexp: "
        "`spec.greedy_logprobs_exact` checks these premises on it.",
        r"\max z \le c < 2\max z,\ c > 0 \implies \operatorname{argmax}_{\text{first}}"
        r"\big(\mathrm{fl}(z - c)\big) = \operatorname{argmax}_{\text{first}}(z)",
        ("z, c finite", "formats: bfloat16, float16 (float32 with --full)", "c >= max(z), c > 0, fl(2 max(z)) > c"),
        "Z3 floating-point theory per format (strict below the max, monotone), then one Z3 query per format "
        "over arrays of its floats and symbolic n: y[i] = f(z[i], c) with f defined as fp.sub RNE, both "
        "lemmas as universally quantified hypotheses about f (each proved by its per-format query), the "
        "claim that the first maximum stays. For log-probabilities, `spec.greedy_logprobs_exact` checks these "
        "premises on the row's own computed logsumexp (nothing about it is assumed here)", "proved",
        both(floating.declared_formats, floating.fp_greedy_exact_guard, floating.sanity_guard),
        "`spec.greedy_logprobs_exact(row, dtype)` applies this guard: when it says yes, a greedy sampler "
        "may be fed float log-probabilities with no risk of a different token."),
    Theorem(
        "argmax-vector-shift", "control: argmax(z - c) with c a VECTOR (false)",
        "A deliberately false variant of argmax-shift: subtracting a different constant from each "
        "entry. The checker must come back with a counterexample, showing it can fail.",
        r"\text{claim: } \operatorname{argmax}(z - c) = \operatorname{argmax}(z),\quad c \in \mathbb{R}^n",
        ("n = 2", "same one-hot encoding as argmax-shift, with c_i per entry"),
        "Z3 (the negated claim is sat), witness re-checked exactly", "refuted",
        both(refutations.argmax_vector_shift, sanity.argmax_vector_shift),
        "Only a shift shared by the whole row is harmless; a per-token bias is not.", control=True),
    Theorem(
        "typical-shift", "typical-p keeps the same tokens for logits and log-probabilities",
        "Locally typical sampling keeps the same tokens for z and z - c: its scores |-log p_i - H| read only the "
        "probabilities, the log-probabilities and the entropy, and all three are shift-invariant.",
        r"\operatorname{keep}_{\text{typical}}(z - c) = \operatorname{keep}_{\text{typical}}(z),\quad "
        r"s_i = \big|{-\log p_i} - H(p)\big|",
        (REAL_ROW, SHIFT, "any mass in [0, 1], any min_tokens_to_keep >= 1, ties kept whole (Hugging Face) or "
         "broken by index (llama.cpp)", f"bounded: every n = 1..{samplers.MAX_N}; the log-probabilities and H "
         "for symbolic n", SAMPLERS_NOTE),
        PROB_METHOD + " The log-probabilities and H: SymPy, symbolic n (log softmax(z - c) = log softmax(z), "
        "then H as a sum of functions of them). Mutant that scores |-z_i - H| with the logits: not proved "
        "(tests)" + DISTRIBUTION, "proved",
        both(faithful("typical"), samplers.shift_theorem("typical"), sanity.typical_shift),
        "Typical-p may run on logits or log-probabilities (mlx-lm's input) and keeps the same tokens."),
    Theorem(
        "epsilon-shift", "epsilon sampling keeps the same tokens for logits and log-probabilities",
        "Epsilon sampling (keep iff p_i >= epsilon, plus the min_tokens_to_keep most likely) keeps the same "
        "tokens for z and z - c: it reads only the probabilities and the order of the logits.",
        r"\operatorname{keep}_{\epsilon}(z - c) = \operatorname{keep}_{\epsilon}(z),\quad "
        r"\operatorname{keep}_{\epsilon}(z) \supseteq \{i : p_i \ge \epsilon\}",
        (REAL_ROW, SHIFT, "any epsilon in [0, 1], any min_tokens_to_keep >= 1 (the largest logits, ties kept)",
         f"bounded: every n = 1..{samplers.MAX_N}", SAMPLERS_NOTE),
        PROB_METHOD + " Mutant that compares exp(z_i) (unnormalised) with epsilon: not proved (tests)"
        + DISTRIBUTION, "proved",
        both(faithful("epsilon"), samplers.shift_theorem("epsilon"), sanity.epsilon_shift),
        "Epsilon sampling may run on logits or log-probabilities and keeps the same tokens."),
    Theorem(
        "eta-shift", "eta sampling keeps the same tokens for logits and log-probabilities",
        "Eta sampling (keep iff p_i >= min(epsilon, sqrt(epsilon) exp(-H)), plus min_tokens_to_keep) keeps the "
        "same tokens for z and z - c: the threshold reads the entropy, a function of the probabilities.",
        r"\operatorname{keep}_{\eta}(z - c) = \operatorname{keep}_{\eta}(z),\quad "
        r"\eta = \min\big(\epsilon, \sqrt{\epsilon}\, e^{-H(p)}\big)",
        (REAL_ROW, SHIFT, "any epsilon in [0, 1] (sqrt: its root >= 0), any min_tokens_to_keep >= 1",
         f"bounded: every n = 1..{samplers.MAX_N}; the log-probabilities and H for symbolic n", SAMPLERS_NOTE),
        PROB_METHOD + " H: SymPy, symbolic n, as for typical-shift. Mutant that compares exp(z_i) with eta: not "
        "proved (tests)" + DISTRIBUTION, "proved",
        both(faithful("eta"), samplers.shift_theorem("eta"), sanity.eta_shift),
        "Eta sampling may run on logits or log-probabilities and keeps the same tokens."),
    Theorem(
        "xtc-shift", "XTC targets the same mixture for logits and log-probabilities",
        "Exclude Top Choices acts with probability `chance`; both branches keep shift-invariant sets (the branch "
        "that fires reads only the probabilities; the other keeps everything), so the target, the mixture "
        "(1 - chance) softmax(z) + chance softmax over the kept, is the same for z and z - c.",
        r"(1 - \pi)\,\operatorname{softmax}(z - c) + \pi\,\operatorname{softmax}_{K(z - c)}(z - c) = "
        r"(1 - \pi)\,\operatorname{softmax}(z) + \pi\,\operatorname{softmax}_{K(z)}(z)",
        (REAL_ROW, SHIFT, "any threshold in [0, 1] compared by > (mlx-lm) or >= (llama.cpp), any chance pi in "
         "[0, 1], ties kept (mlx-lm) or broken by index (llama.cpp), any special tokens, any min_keep >= 0",
         f"bounded: every n = 1..{samplers.MAX_N}", SAMPLERS_NOTE),
        PROB_METHOD + " The claim covers the removed set of the branch that fires and the mixture, for each of "
        "the four variants. Mutant that compares exp(z_i) with the threshold: not proved (tests)"
        + XTC_DISTRIBUTION, "proved",
        both(faithful("xtc"), samplers.shift_theorem("xtc"), sanity.xtc_shift),
        "XTC may run on logits or log-probabilities: the same tokens are excluded and the target mixture is the same."),
    Theorem(
        "top-n-sigma-shift", "top-n-sigma keeps the same tokens for logits and log-probabilities",
        "Top-n-sigma (keep iff z_i >= max(z) - n sigma(z), sigma the population standard deviation) keeps the "
        "same tokens for z and z - c: the maximum moves with the row and sigma does not move.",
        r"\sigma(z - c) = \sigma(z),\ \max(z - c) = \max(z) - c \implies "
        r"\operatorname{keep}_{n\sigma}(z - c) = \operatorname{keep}_{n\sigma}(z)",
        (REAL_ROW, SHIFT, "any n > 0 (called k in the queries)", "sigma is the root >= 0 of the variance",
         f"bounded: every n = 1..{samplers.MAX_N} rows; sigma also for symbolic n"),
        "SymPy, symbolic n: sigma(z - c)^2 = sigma(z)^2. Z3 over the reals, one query per row length n = 1.."
        f"{samplers.MAX_N}: max(z - c) = max(z) - c and sigma(z - c) = sigma(z) (the roots of equal variances; "
        "nonlinear real arithmetic); then one query for every n (a copy of the row per n), given that lemma: the "
        "keep tests agree. Mutant whose sigma is that of exp(z): not proved (tests)" + DISTRIBUTION,
        "proved",
        both(faithful("top-n-sigma"), samplers.top_n_sigma, sanity.top_n_sigma_shift),
        "Top-n-sigma may run on logits or log-probabilities and keeps the same tokens."),
    Theorem(
        "top-n-sigma-temperature", "top-n-sigma commutes with temperature",
        "Top-n-sigma keeps the same tokens for z and z / T (T > 0): max and sigma both scale by 1 / T. So "
        "temperature before or after top-n-sigma gives the same keep-set and the same distribution "
        "(softmax of z / T over it).",
        r"T > 0:\quad \operatorname{keep}_{n\sigma}(z / T) = \operatorname{keep}_{n\sigma}(z)",
        (REAL_ROW, "T > 0 (T = 0 is greedy: argmax, which top-n-sigma always keeps)", "any n > 0 (k in the queries)",
         "sigma is the root >= 0 of the variance",
         f"bounded: every n = 1..{samplers.TEMPERATURE_N} rows; n = {samplers.TEMPERATURE_N + 1}..{MAX_N} with --full"),
        "Z3 over the reals, one row length per query (nonlinear), the row written z = T y: mean(z) = T mean(y), "
        "var(z) = T^2 var(y), then max(z) = T max(y) and sigma(z) = T sigma(y) (the roots >= 0), each lemma "
        "given the ones before; then one query for every n (a copy of the row per n): the keep tests agree"
        + TEMPERATURE_DISTRIBUTION,
        "proved",
        both(faithful("top-n-sigma"), samplers.top_n_sigma_temperature, sanity.top_n_sigma_temperature),
        "Temperature and top-n-sigma may be applied in either order: the same tokens stay and the target "
        "distribution is the same."),
    Theorem(
        "speculative-rejection", "speculative sampling's rejection step samples exactly from the target",
        "A draft token x ~ q accepted with probability min(1, p(x)/q(x)), and otherwise replaced by a token from "
        "max(0, p - q) normalised, is distributed exactly as p.",
        r"q(x)\min\!\big(1, \tfrac{p(x)}{q(x)}\big) + \Big(1 - \sum_y \min(p(y), q(y))\Big)"
        r"\frac{\max(0, p(x) - q(x))}{\sum_y \max(0, p(y) - q(y))} = p(x)",
        ("p and q are probability vectors on the same n tokens (entries >= 0, each summing to 1); q(x) = 0 "
         "tokens are never proposed", "when max(0, p - q) has mass 0, p = q and nothing is resampled",
         f"bounded: every n = 1..{speculative.MAX_N}, p and q symbolic; the per-token identity for all reals",
         "p and q are the distributions actually sampled from: the target's and the draft's logits after the "
         "same processors and sampling transforms, normalised"),
        f"Z3 over the reals (nonlinear: the ratios and the normalisation), one query per n = 1..{speculative.MAX_N}, "
        "and one for the per-token identity q min(1, p/q) + max(0, p - q) = p; a sanity check in Fractions on "
        "random rational p and q up to 12 tokens", "proved", both(faithful("speculative"), speculative.rejection),
        "A speculative verifier keeps the target's distribution if it compares normalised probabilities of the "
        "distributions it really samples from: apply the same temperature, filters and penalties to the draft "
        "as to the target before computing q, or the ratio is of the wrong distributions."),
    Theorem(
        "speculative-logits", "claim: the verifier may take its ratio from unnormalised logits (false)",
        "Claim: accepting with min(1, exp(z_p(x) - z_q(x))) for raw logits z_p, z_q, else resampling from "
        "max(0, p - q), is distributed as p. False: exp(z_p - z_q) = (p/q)(Z_p/Z_q) is off by the ratio of the "
        "normalisers.",
        r"\text{claim: } \min\!\big(1, e^{z_p(x) - z_q(x)}\big) \text{ in place of } "
        r"\min\!\big(1, \tfrac{p(x)}{q(x)}\big) \text{ keeps } p",
        ("two tokens, p = softmax(z_p), q = softmax(z_q), rational probabilities",),
        "Exact witness in Fractions: the verifier's output distribution computed from its definition, and the "
        "same verifier with the normalised ratio, which gives p", "refuted", speculative.logits,
        "Log-probabilities (z - logsumexp z) are fine here, logits are not: the acceptance ratio needs "
        "normalised probabilities, so a verifier fed raw logits must normalise them first."),
    Theorem(
        "speculative-token-match", "accepting drafts while the target's own sample matches them keeps the joint",
        "mlx-lm's scheme: the target samples every verified position and the drafts are kept while its sample "
        "equals them, then its sample at the first mismatch is emitted. When the target's draws at the positions "
        "are independent, the emitted pair (a, b) has probability p1(a) p2(b | a), as plain generation.",
        r"P(a, b) = p_1(a)\, p_2(b \mid a)\quad\text{for every draft}",
        ("two positions; p1 and p2(. | a) probability vectors on n tokens",
         "the target's draws at the two positions are independent (separate random numbers)",
         f"bounded: every n = 1..{speculative.MATCH_N} tokens and every first draft token"),
        f"Z3 over the reals, one query per n = 1..{speculative.MATCH_N} and draft token: the probability of each "
        "emitted pair written from the scheme's definition", "proved", both(fidelity.no_counterpart(
            "spec/ has no token-matching verifier of its own to evaluate the encoded scheme against (it drives "
            "mlx-lm's, spec.engines.mlx_lm.speculative_loop); the scheme is written from its definition in "
            "proofs/speculative.py and enumerated exactly in the sanity check below"), speculative.token_match),
        "Token matching keeps the target's distribution only if each position draws its own randomness: a "
        "sampler that shares a coin or a random number across the positions of one call breaks it "
        "(`speculative-shared-coin`)."),
    Theorem(
        "speculative-shared-coin", "claim: token matching keeps the joint even when positions share a coin (false)",
        "Claim: the token-match scheme emits pairs with probability p1(a) p2(b | a) even when the target's draws "
        "at the two positions share one random coin (as mlx-lm's XTC does within one sampler call). False.",
        r"\text{claim: } P(a, b) = p_1(a)\, p_2(b \mid a) \text{ with one coin for both positions}",
        ("two tokens, two positions, one coin with probability 1/2 choosing the distribution at both",),
        "Exact witness in Fractions: the joint of the emitted pair against the product of its marginals",
        "refuted", speculative.shared_coin,
        "Every marginal is right and the joint is not: a validator has to look at joints (batch independence, "
        "spec.validate_generation over two tokens), not only at marginals."),
    *commutation.THEOREMS,
)


def _formats(ctx) -> str:
    return ", ".join(floating.formats(ctx))


# What each bounded theorem is checked for, in its verdict ("proved for n <= 6"): one place. Theorems
# not listed are checked for every n (symbolic n, or arrays and quantifiers).
SCOPES = {
    **dict.fromkeys(("typical-shift", "epsilon-shift", "eta-shift", "xtc-shift", "top-n-sigma-shift"),
                    f"n <= {samplers.MAX_N}"),
    "top-n-sigma-temperature": lambda ctx: f"n <= {MAX_N if ctx.full else samplers.TEMPERATURE_N}",
    "speculative-rejection": f"n <= {speculative.MAX_N}",
    "speculative-token-match": f"n <= {speculative.MATCH_N}",
    **dict.fromkeys(("fp-sub-monotone", "fp-argmax-shift-weak", "fp-greedy-exact-guard"), _formats),
}
THEOREMS = tuple(replace(t, scope=SCOPES[t.id]) if t.id in SCOPES else t for t in THEOREMS)

# What a kernel-checked Coq proof of a theorem covers, in its verdict ("proved for every n (Coq kernel)"):
# the floating-point theorems are proved in Flocq for every binary format, the others for every row length.
KERNEL_SCOPES = dict.fromkeys(("fp-sub-monotone", "fp-argmax-shift-weak", "fp-greedy-exact-guard"),
                              "every binary format")


def kernel_scope(theorem_id: str) -> str:
    return KERNEL_SCOPES.get(theorem_id, "every n")

BY_ID = {t.id: t for t in THEOREMS}
