(** The spec's rules (spec/transforms.py, spec/target.py), each written once over any type with
    boolean comparisons and field operations, so the same definition is instantiated at R for the
    proofs (Reals.v) and at Q for the fidelity test (tests/test_coq_rules.py evaluates it with
    vm_compute and compares the keep-sets with spec.target).

    A row is a list of values and a keep mask (the survivors of earlier filters; a missing mask
    entry is "off"). A rule returns the new keep mask, one boolean per token. Rules that read
    probabilities take the probability row itself as their values (Reals.v computes it with exp);
    typical-p also takes the surprisals -log p_i, so rational rows exercise every comparison. *)

From Coq Require Import List Bool Arith.
Import ListNotations.

Record ops (A : Type) := Ops {
  zero : A; one : A;
  add : A -> A -> A; sub : A -> A -> A; mul : A -> A -> A; div : A -> A -> A;
  leb : A -> A -> bool; ltb : A -> A -> bool }.
Arguments zero {A} o. Arguments one {A} o. Arguments add {A} o. Arguments sub {A} o.
Arguments mul {A} o. Arguments div {A} o. Arguments leb {A} o. Arguments ltb {A} o.

(** A token: its index in the row, its value and whether it is still alive. *)
Record tok (A : Type) := Tok { ix : nat; val : A; on : bool }.
Arguments Tok {A}. Arguments ix {A}. Arguments val {A}. Arguments on {A}.

Fixpoint toks_from {A} (i : nat) (z : list A) (m : list bool) : list (tok A) :=
  match z with
  | [] => []
  | x :: z' => Tok i x (hd false m) :: toks_from (S i) z' (tl m)
  end.

Definition toks {A} (z : list A) (m : list bool) := toks_from 0 z m.

(** The keep mask with every token alive. *)
Definition all_on {A} (z : list A) : list bool := map (fun _ => true) z.

Definition count {B} (f : B -> bool) (l : list B) : nat := length (filter f l).

Definition count_true (l : list bool) : nat := count (fun b => b) l.

Section Generic.
Context {A : Type} (o : ops A).

Definition eqb (x y : A) : bool := leb o x y && leb o y x.

Definition sumf {B} (g : B -> A) (f : B -> bool) (l : list B) : A :=
  fold_right (fun t acc => if f t then add o (g t) acc else acc) (zero o) l.

Definition maxv (x y : A) : A := if ltb o x y then y else x.
Definition minv (x y : A) : A := if ltb o y x then y else x.

Definition maxl (l : list A) : A :=
  match l with [] => zero o | x :: l' => fold_left maxv l' x end.
Definition minl (l : list A) : A :=
  match l with [] => zero o | x :: l' => fold_left minv l' x end.

(** The largest alive value (0 when none is alive). *)
Definition vmax (ts : list (tok A)) : A := maxl (map val (filter on ts)).

(** u is ranked before t: larger value, or equal and a lower index (a stable descending sort). *)
Definition ahead (t u : tok A) : bool :=
  on u && (ltb o (val t) (val u) || eqb (val t) (val u) && Nat.ltb (ix u) (ix t)).

(** u is strictly larger than t. *)
Definition above (t u : tok A) : bool := on u && ltb o (val t) (val u).

(** Greedy: the first index of the maximum (np.argmax), a running argmax with a strict update. *)
Fixpoint argmax_go (i best : nat) (bv : A) (z : list A) : nat :=
  match z with
  | [] => best
  | x :: z' => if ltb o bv x then argmax_go (S i) i x z' else argmax_go (S i) best bv z'
  end.

(* rule: argmax *)
Definition argmax (z : list A) : nat :=
  match z with [] => 0 | x :: z' => argmax_go 1 0 x z' end.

(** Top-k, ties="all": keep every token with fewer than k alive tokens strictly above it. *)
Definition topk_all_keep (k : nat) (ts : list (tok A)) (t : tok A) : bool :=
  on t && Nat.ltb (count (above t) ts) k.

(* rule: top-k *)
Definition topk_all (k : nat) (z : list A) (m : list bool) : list bool :=
  let ts := toks z m in map (topk_all_keep k ts) ts.

(** Top-k, ties="any" resolved as spec.target does: exactly k, ties to the lower index. *)
Definition topk_exact_keep (k : nat) (ts : list (tok A)) (t : tok A) : bool :=
  on t && Nat.ltb (count (ahead t) ts) k.

(* rule: top-k-exact *)
Definition topk_exact (k : nat) (z : list A) (m : list bool) : list bool :=
  let ts := toks z m in map (topk_exact_keep k ts) ts.

(** Top-p over probabilities p (renormalised over the survivors, or the original row's): rank by
    descending probability, ties by index; keep a token iff the mass ranked before it is < P
    (ties_all: the mass of the strictly more likely tokens), or it is among the first
    min_tokens_to_keep. *)
Definition topp_keep (ties_all : bool) (P : A) (mtk : nat) (ts : list (tok A)) (t : tok A) : bool :=
  on t && (ltb o (sumf val (if ties_all then above t else ahead t) ts) P
           || Nat.ltb (count (ahead t) ts) mtk).

(* rule: top-p *)
Definition topp (ties_all : bool) (P : A) (mtk : nat) (p : list A) (m : list bool) : list bool :=
  let ts := toks p m in map (topp_keep ties_all P mtk ts) ts.

(** Add the first mtk tokens of `rank` when fewer than mtk are kept (min_tokens_to_keep). *)
Definition at_least (mtk : nat) (kept rank : list bool) : list bool :=
  if Nat.ltb (count_true kept) mtk then map (fun '(a, b) => a || b) (combine kept rank) else kept.

(** Min-p in probability space: p_i >= m * max p; min_tokens_to_keep takes exactly that many
    (ties to the lower index, rank_cut "any"). *)
Definition minp_keep (mm : A) (ts : list (tok A)) (t : tok A) : bool :=
  on t && leb o (mul o mm (vmax ts)) (val t).

(* rule: min-p *)
Definition minp (mm : A) (mtk : nat) (p : list A) (m : list bool) : list bool :=
  let ts := toks p m in
  at_least mtk (map (minp_keep mm ts) ts) (map (topk_exact_keep mtk ts) ts).

(** Epsilon cutoff: p_i >= eps; min_tokens_to_keep keeps ties at its cut (rank_cut "all"). *)
Definition cutoff (th : A) (mtk : nat) (p : list A) (m : list bool) : list bool :=
  let ts := toks p m in
  at_least mtk (map (fun t => on t && leb o th (val t)) ts) (map (topk_all_keep mtk ts) ts).

(* rule: epsilon *)
Definition epsilon (eps : A) (mtk : nat) (p : list A) (m : list bool) : list bool := cutoff eps mtk p m.

(** Typical-p over tokens valued (p_i, s_i), s_i the surprisal -log p_i: H = sum p_i s_i, the
    score |s_i - H|, most typical first (ties by index); keep iff the mass ranked before (ties_all:
    of strictly more typical tokens) is < mass, or among the first min_tokens_to_keep; mass = 1
    changes nothing. *)
Definition absd (x y : A) : A := if leb o x y then sub o y x else sub o x y.

Definition entropy (ts : list (tok (A * A))) : A :=
  sumf (fun t => mul o (fst (val t)) (snd (val t))) on ts.

(** Eta cutoff (Hewitt et al.): the epsilon cutoff at min(eps, sqrt(eps) * e(H)), H the entropy
    of the survivors, sum p_i s_i over the surprisals s_i. The caller supplies sqrt(eps) and e:
    exp(-H) with H in nats at R (Samplers.v), 2^-H with H in bits at Q (the same number). *)
(* rule: eta *)
Definition eta (e : A -> A) (eps sqrt_eps : A) (mtk : nat) (p s : list A) (m : list bool) : list bool :=
  let h := entropy (toks (combine p s) m) in
  cutoff (minv eps (mul o sqrt_eps (e h))) mtk p m.

Definition tscore (h : A) (t : tok (A * A)) : A := absd (snd (val t)) h.

Definition typ_ahead (h : A) (t u : tok (A * A)) : bool :=
  on u && (ltb o (tscore h u) (tscore h t)
           || eqb (tscore h u) (tscore h t) && Nat.ltb (ix u) (ix t)).

Definition typ_strict (h : A) (t u : tok (A * A)) : bool := on u && ltb o (tscore h u) (tscore h t).

Definition typical_keep (ties_all : bool) (mass : A) (mtk : nat) (ts : list (tok (A * A)))
    (t : tok (A * A)) : bool :=
  let h := entropy ts in
  on t && (eqb mass (one o)
           || ltb o (sumf (fun u => fst (val u)) (if ties_all then typ_strict h t else typ_ahead h t) ts) mass
           || Nat.ltb (count (typ_ahead h t) ts) mtk).

(* rule: typical *)
Definition typical (ties_all : bool) (mass : A) (mtk : nat) (p s : list A) (m : list bool) : list bool :=
  let ts := toks (combine p s) m in map (typical_keep ties_all mass mtk ts) ts.

(** Top-n-sigma: keep iff z_i >= max - n sigma, sigma the population standard deviation of the
    survivors. Written without the square root: (max - z_i)^2 <= n^2 var (max - z_i >= 0, n > 0);
    Reals.v proves it is the rule with sqrt. *)
Definition nalive (ts : list (tok A)) : A := sumf (fun _ => one o) on ts.
Definition mean (ts : list (tok A)) : A := div o (sumf val on ts) (nalive ts).
Definition var (ts : list (tok A)) : A :=
  let mu := mean ts in div o (sumf (fun t => mul o (sub o (val t) mu) (sub o (val t) mu)) on ts) (nalive ts).

Definition tns_keep (n : A) (ts : list (tok A)) (t : tok A) : bool :=
  let d := sub o (vmax ts) (val t) in on t && leb o (mul o d d) (mul o (mul o n n) (var ts)).

(* rule: top-n-sigma *)
Definition top_n_sigma (n : A) (z : list A) (m : list bool) : list bool :=
  let ts := toks z m in map (tns_keep n ts) ts.

(** XTC in the branch where it acts, over probabilities: the survivors above the threshold (> or
    >=) are all removed but the least likely (ties_all: every token tied with it stays; else only
    the first of them), special tokens never; nothing when fewer than two are above, or when fewer
    than min_keep would remain. *)
Definition xtc_over (ge : bool) (thr : A) (t : tok A) : bool :=
  on t && (if ge then leb o thr (val t) else ltb o thr (val t)).

Definition xtc_removed (ge ties_all : bool) (thr : A) (special : list nat) (ts : list (tok A)) (t : tok A) : bool :=
  let least := minl (map val (filter (xtc_over ge thr) ts)) in
  xtc_over ge thr t
  && (ltb o least (val t)
      || negb ties_all && eqb (val t) least
         && existsb (fun u => xtc_over ge thr u && eqb (val u) least && Nat.ltb (ix u) (ix t)) ts)
  && negb (existsb (Nat.eqb (ix t)) special).

(* rule: xtc *)
Definition xtc (ge ties_all : bool) (thr : A) (special : list nat) (min_keep : nat) (p : list A)
    (m : list bool) : list bool :=
  let ts := toks p m in
  if Nat.ltb (count (xtc_over ge thr) ts) 2 then map on ts
  else let kept := map (fun t => on t && negb (xtc_removed ge ties_all thr special ts t)) ts in
       if Nat.ltb (count_true kept) min_keep then map on ts else kept.

(** Normalising weights over the survivors (0 for the others): with w = exp z this is the softmax
    a filter reads (Softmax.v proves it is msoftmax); at Q, w = q gives the probabilities q / sum(q). *)
(* rule: normalize *)
Definition normalize (w : list A) (m : list bool) : list A :=
  let ts := toks w m in
  let S := sumf val on ts in
  map (fun t => if on t then div o (val t) S else zero o) ts.

(** The transforms that change scores (they keep the mask). A bias or seen-mask shorter than the
    row is padded with 0 / false. *)
(* rule: temperature *)
Definition temperature (T : A) (z : list A) : list A := map (fun x => div o x T) z.

Definition shift (c : A) (z : list A) : list A := map (fun x => sub o x c) z.

(* rule: bias *)
Definition bias (b z : list A) : list A :=
  map (fun '(x, y) => add o x y) (combine z (b ++ repeat (zero o) (length z))).

(** The sign-aware repetition penalty on the seen tokens (1 = seen): z > 0 divides by theta,
    else multiplies (llama.cpp's z <= 0 multiplies: the same function, as both give 0 at 0). *)
Definition penalize (theta x : A) : A := if ltb o (zero o) x then div o x theta else mul o x theta.

(* rule: repetition *)
Definition repetition (theta : A) (seen : list bool) (z : list A) : list A :=
  map (fun '(x, s) => if s : bool then penalize theta x else x) (combine z (seen ++ repeat false (length z))).

(** Inverse-CDF draw on unnormalised weights: the first k with w_0 + ... + w_k > u * total
    (the row length when there is none). *)
Fixpoint icdf_go (i : nat) (acc thr : A) (w : list A) : nat :=
  match w with
  | [] => i
  | x :: w' => if ltb o thr (add o acc x) then i else icdf_go (S i) (add o acc x) thr w'
  end.

Definition icdf (u : A) (w : list A) : nat := icdf_go 0 (zero o) (mul o u (fold_right (add o) (zero o) w)) w.

End Generic.

(** The rational instance, for evaluation (tests/test_coq_rules.py). *)
From Coq Require Import QArith.
Definition Q_ops : ops Q :=
  Ops Q 0 1 Qplus Qminus Qmult Qdiv Qle_bool (fun x y => negb (Qle_bool y x)).
