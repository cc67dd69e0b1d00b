(** typical-p, epsilon, eta, top-n-sigma and XTC for rows of any length: each reads the
    survivors' probabilities, their surprisals -log p_i = logsumexp - z_i and the entropy (or, for
    top-n-sigma, the logits' max and standard deviation), and each of those is the same for z and
    z - c, so the rule keeps the same tokens. *)

From Coq Require Import Reals Lra List Bool Arith.
From SamplerProofs Require Import Rules Rows Softmax Filters.
Import ListNotations.
Open Scope R_scope.

(** Surprisals over the survivors: logsumexp of the survivors minus z_i (0 for the others). *)
Definition msurprise (z : list R) (m : list bool) : list R :=
  let ts := toks z m in map (fun t => if on t then ln (msum ts) - val t else 0) ts.

Lemma msum_pos_on ts t : In t ts -> on t = true -> 0 < msum ts.
Proof. intros; eapply sumf_pos; eauto; intro; apply exp_pos. Qed.

Theorem msurprise_shift : forall z m c, msurprise (map (fun x => x - c) z) m = msurprise z m.
Proof.
  intros z m c; unfold msurprise; rewrite toks_map, msum_shift, map_map; apply map_ext_in; intros t Ht; simpl.
  destruct (on t) eqn:Ot; auto.
  rewrite ln_mult, ln_exp; [ring | apply exp_pos | eapply msum_pos_on; eauto].
Qed.

Definition typical_R (ties_all : bool) (mass : R) (mtk : nat) (z : list R) (m : list bool) : list bool :=
  typical R_ops ties_all mass mtk (msoftmax z m) (msurprise z m) m.

(* theorem: typical-shift *)
Theorem typical_shift : forall ties_all mass mtk z m c,
  typical_R ties_all mass mtk (map (fun x => x - c) z) m = typical_R ties_all mass mtk z m.
Proof. intros; unfold typical_R; rewrite msoftmax_shift, msurprise_shift; reflexivity. Qed.

Definition epsilon_R (eps : R) (mtk : nat) (z : list R) (m : list bool) : list bool :=
  epsilon R_ops eps mtk (msoftmax z m) m.

(* theorem: epsilon-shift *)
Theorem epsilon_shift : forall eps mtk z m c,
  epsilon_R eps mtk (map (fun x => x - c) z) m = epsilon_R eps mtk z m.
Proof. intros; unfold epsilon_R; rewrite msoftmax_shift; reflexivity. Qed.

(** The cutoff as spec/transforms.py writes it: the threshold on the survivors' probabilities, and
    min_tokens_to_keep ranked by the logits (rank_cut "all" on z), not by the probabilities. *)
Lemma cutoff_ranks_logits th mtk z m :
  cutoff R_ops th mtk (msoftmax z m) m
  = at_least mtk (map (fun t => on t && Rleb th (mprob (msum (toks z m)) t)) (toks z m))
      (map (topk_all_keep R_ops mtk (toks z m)) (toks z m)).
Proof.
  unfold cutoff, msoftmax; rewrite toks_of_toks, map_map; set (ts := toks z m); f_equal.
  destruct (none_or_some ts) as [N|Some'].
  - rewrite !map_map; apply map_ext_in; intros t Ht; unfold topk_all_keep; simpl; rewrite (N t Ht); auto.
  - assert (HS : 0 < msum ts) by (apply msum_pos, Some').
    assert (O : same_order (mprob (msum ts)) val ts).
    { intros t u _ _ Ot Ou; unfold mprob; rewrite Ot, Ou; apply (mono_prob _ HS). }
    pose proof (topk_all_retok (mprob (msum ts)) val mtk ts O) as E; rewrite retok_id in E; exact E.
Qed.

(** Eta: the epsilon cutoff at min(eps, sqrt(eps) exp(-H)), H the survivors' entropy. *)
Definition eta_R (eps : R) (mtk : nat) (z : list R) (m : list bool) : list bool :=
  eta R_ops (fun h => exp (- h)) eps (sqrt eps) mtk (msoftmax z m) (msurprise z m) m.

(* theorem: eta-shift *)
Theorem eta_shift : forall eps mtk z m c,
  eta_R eps mtk (map (fun x => x - c) z) m = eta_R eps mtk z m.
Proof. intros; unfold eta_R; rewrite msoftmax_shift, msurprise_shift; reflexivity. Qed.

(** XTC: the exact mixture (1 - prob) softmax over the survivors + prob softmax over XTC's keep. *)
Definition xtc_R ge ties_all thr special min_keep (z : list R) (m : list bool) : list bool :=
  xtc R_ops ge ties_all thr special min_keep (msoftmax z m) m.

Definition xtc_mixture (prob : R) ge ties_all thr special min_keep (z : list R) (m : list bool) : list R :=
  map (fun '(a, b) => (1 - prob) * a + prob * b)
    (combine (msoftmax z m) (msoftmax z (xtc_R ge ties_all thr special min_keep z m))).

(* theorem: xtc-shift *)
Theorem xtc_shift_keep : forall ge ties_all thr special min_keep z m c,
  xtc_R ge ties_all thr special min_keep (map (fun x => x - c) z) m = xtc_R ge ties_all thr special min_keep z m.
Proof. intros; unfold xtc_R; rewrite msoftmax_shift; reflexivity. Qed.

(* theorem: xtc-shift *)
Theorem xtc_shift : forall prob ge ties_all thr special min_keep z m c,
  xtc_mixture prob ge ties_all thr special min_keep (map (fun x => x - c) z) m
  = xtc_mixture prob ge ties_all thr special min_keep z m.
Proof.
  intros; unfold xtc_mixture; rewrite xtc_shift_keep, !msoftmax_shift; reflexivity.
Qed.

(** Top-n-sigma as the spec writes it: z_i >= max - n sqrt(var). *)
Definition tns_R (n : R) (z : list R) (m : list bool) : list bool :=
  let ts := toks z m in map (fun t => on t && Rleb (vmax R_ops ts - n * sqrt (var R_ops ts)) (val t)) ts.

Lemma sumf_affine (a b : R) ts :
  sumf R_ops val on (map (retok (fun t => a * val t + b)) ts) = a * sumf R_ops val on ts + b * nalive R_ops ts.
Proof. unfold nalive; induction ts as [|t ts IH]; simpl in *; [ring|]; destruct (on t); simpl; rewrite IH; ring. Qed.

Lemma nalive_retok (g : tok R -> R) ts : nalive R_ops (map (retok g) ts) = nalive R_ops ts.
Proof. unfold nalive; rewrite sumf_map; reflexivity. Qed.

Lemma nalive_pos ts : (exists t, In t ts /\ on t = true) -> 0 < nalive R_ops ts.
Proof. intros [t [Ht Ot]]; unfold nalive; eapply sumf_pos; eauto; intro; simpl; lra. Qed.

Lemma mean_affine a b ts : (exists t, In t ts /\ on t = true) ->
  mean R_ops (map (retok (fun t => a * val t + b)) ts) = a * mean R_ops ts + b.
Proof.
  intro S; pose proof (nalive_pos ts S); unfold mean; simpl; rewrite sumf_affine, nalive_retok.
  field; lra.
Qed.

Lemma var_affine a b ts : (exists t, In t ts /\ on t = true) ->
  var R_ops (map (retok (fun t => a * val t + b)) ts) = a * a * var R_ops ts.
Proof.
  intro S; pose proof (nalive_pos ts S); unfold var; rewrite mean_affine by auto.
  set (mu := mean R_ops ts); rewrite sumf_map, nalive_retok; simpl.
  rewrite (sumf_ext _ (fun t => a * a * ((val t - mu) * (val t - mu))) _ on)
    by (auto; intros; ring).
  rewrite sumf_scale; field; lra.
Qed.

Lemma mono_affine a b : 0 < a -> mono (fun x => a * x + b).
Proof.
  intros Ha x y; unfold Rltb; destruct Rlt_dec, Rlt_dec; auto; exfalso; nra.
Qed.

(* theorem: top-n-sigma-shift *)
Theorem top_n_sigma_affine : forall (n a b : R) (z : list R) (m : list bool), 0 < a ->
  top_n_sigma R_ops n (map (fun x => a * x + b) z) m = top_n_sigma R_ops n z m.
Proof.
  intros n a b z m Ha; unfold top_n_sigma; rewrite toks_map.
  destruct (none_or_some (toks z m)) as [N|S].
  - rewrite map_map; apply map_ext_in; intros t Ht; unfold tns_keep; simpl; rewrite (N t Ht); auto.
  - rewrite map_map; apply map_ext; intro t; unfold tns_keep; cbv zeta.
    rewrite (vmax_mono (fun x => a * x + b)) by auto using mono_affine.
    rewrite var_affine by auto.
    set (v := vmax R_ops (toks z m)); set (w := var R_ops (toks z m)); simpl.
    destruct (on t); simpl; auto; set (x := val t).
    replace ((a * v + b - (a * x + b)) * (a * v + b - (a * x + b))) with (a * a * ((v - x) * (v - x))) by ring.
    replace (n * n * (a * a * w)) with (a * a * (n * n * w)) by ring.
    assert (0 < a * a) by nra.
    unfold Rleb; destruct Rle_dec as [h|h], Rle_dec as [h'|h']; auto; exfalso.
    + apply h'; apply Rmult_le_reg_l with (a * a); auto.
    + apply h; apply Rmult_le_compat_l; lra.
Qed.

(* theorem: top-n-sigma-shift *)
Theorem top_n_sigma_shift : forall (n : R) (z : list R) (m : list bool) (c : R),
  top_n_sigma R_ops n (map (fun x => x - c) z) m = top_n_sigma R_ops n z m.
Proof.
  intros; rewrite <- (top_n_sigma_affine n 1 (- c) z m) by lra; f_equal; apply map_ext; intro; ring.
Qed.

(* theorem: top-n-sigma-temperature *)
Theorem top_n_sigma_temperature : forall (n T : R) (z : list R) (m : list bool), 0 < T ->
  top_n_sigma R_ops n (scale T z) m = top_n_sigma R_ops n z m.
Proof.
  intros n T z m HT; unfold scale; rewrite <- (top_n_sigma_affine n (/ T) 0 z m) by (apply Rinv_0_lt_compat, HT).
  f_equal; apply map_ext; intro; unfold Rdiv; ring.
Qed.

(** The square-root-free rule is the spec's z_i >= max - n sigma, for every n > 0. *)
Lemma var_nonneg ts : (exists t, In t ts /\ on t = true) -> 0 <= var R_ops ts.
Proof.
  intro S; pose proof (nalive_pos ts S); unfold var; simpl; unfold Rdiv.
  apply Rmult_le_pos; [apply sumf_nonneg; intro; apply Rle_0_sqr | left; apply Rinv_0_lt_compat; auto].
Qed.

Lemma le_n_sqrt d n w : 0 <= d -> 0 < n -> 0 <= w -> (d <= n * sqrt w <-> d * d <= n * n * w).
Proof.
  intros Hd Hn Hw; rewrite <- (sqrt_square n) at 1 by lra; rewrite <- sqrt_mult by nra.
  split; intro H.
  - replace (n * n * w) with (sqrt (n * n * w) * sqrt (n * n * w)) by (apply sqrt_sqrt; nra).
    apply Rmult_le_compat; auto.
  - rewrite <- (sqrt_square d) by auto; apply sqrt_le_1_alt, H.
Qed.

(* theorem: top-n-sigma-shift *)
Theorem top_n_sigma_is_spec : forall (n : R) (z : list R) (m : list bool), 0 < n ->
  top_n_sigma R_ops n z m = tns_R n z m.
Proof.
  intros n z m Hn; unfold top_n_sigma, tns_R; apply map_ext_in; intros t Ht; unfold tns_keep; cbv zeta.
  destruct (on t) eqn:Ot; auto.
  assert (S : exists t, In t (toks z m) /\ on t = true) by eauto.
  pose proof (var_nonneg _ S).
  assert (val t <= vmax R_ops (toks z m)).
  { unfold vmax; apply maxl_ge, in_map, filter_In; auto. }
  set (v := vmax R_ops (toks z m)) in *; set (w := var R_ops (toks z m)) in *; simpl.
  pose proof (le_n_sqrt (v - val t) n w) as L.
  unfold Rleb; destruct Rle_dec as [h|h], Rle_dec as [h'|h']; auto; exfalso.
  - apply h'; assert (v - val t <= n * sqrt w) by (apply L; auto; lra); lra.
  - apply h; apply L; auto; lra.
Qed.

(* theorem: top-n-sigma-shift *)
Theorem tns_shift : forall (n : R) (z : list R) (m : list bool) (c : R), 0 < n ->
  tns_R n (map (fun x => x - c) z) m = tns_R n z m.
Proof. intros; rewrite <- !top_n_sigma_is_spec by auto; apply top_n_sigma_shift. Qed.

(* theorem: top-n-sigma-temperature *)
Theorem tns_temperature : forall (n T : R) (z : list R) (m : list bool), 0 < n -> 0 < T ->
  tns_R n (scale T z) m = tns_R n z m.
Proof. intros; rewrite <- !top_n_sigma_is_spec by auto; apply top_n_sigma_temperature; auto. Qed.
